"""Neural row models (CTGAN, TVAE, CopulaGAN) from the optional ``ctgan`` package.

One network per table learns the rows together with their segment label; sampling asks it for
rows of the wanted segment (CTGAN and CopulaGAN by conditioning, TVAE by keeping the rows of
that segment among a larger draw).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from hsa_db.errors import SynthesizerError
from hsa_db.tables.copula import Marginal

SEGMENT_COLUMN = "__segment__"
_TVAE_ROUNDS = 10
_EPSILON = 1e-6

_NETWORK_PARAMETERS = {
    "CTGANSynthesizer": [
        "embedding_dim",
        "generator_dim",
        "discriminator_dim",
        "generator_lr",
        "generator_decay",
        "discriminator_lr",
        "discriminator_decay",
        "batch_size",
        "discriminator_steps",
        "log_frequency",
        "verbose",
        "epochs",
        "pac",
        "cuda",
    ],
    "TVAESynthesizer": [
        "embedding_dim",
        "compress_dims",
        "decompress_dims",
        "l2scale",
        "batch_size",
        "verbose",
        "epochs",
        "loss_factor",
        "cuda",
    ],
}
_NETWORK_PARAMETERS["CopulaGANSynthesizer"] = _NETWORK_PARAMETERS["CTGANSynthesizer"]


def import_ctgan() -> Any:
    """The ``ctgan`` module, or a :class:`SynthesizerError` that says how to install it."""
    try:
        import ctgan
    except ImportError:
        raise SynthesizerError(
            "neural table synthesizers need the optional ctgan package; "
            "install it with pip install 'hsa-db[deep]'"
        ) from None
    return ctgan


class NeuralRowModel:
    """A CTGAN, TVAE or CopulaGAN network over a table's transformed columns and segment."""

    categorical_encoding = "label"

    def __init__(self, synthesizer_name: str, parameters: dict[str, Any]) -> None:
        self.synthesizer_name = synthesizer_name
        self._parameters = dict(parameters)
        self._network: Any = None
        self._columns: list[str] = []
        self._discrete: list[str] = []
        self._marginals: dict[str, Marginal] = {}
        self._segment_shares = np.ones(1)

    def fit(
        self,
        data: pd.DataFrame,
        segments: np.ndarray,
        num_segments: int,
        rng: np.random.Generator,
        discrete_columns: list[str] | None = None,
        context: np.ndarray | None = None,
    ) -> None:
        """Train the network on the rows with their segment label as one more category (a
        neural table follows its parent through the segments only: ``context`` is unused)."""
        ctgan = import_ctgan()
        self._columns = list(data.columns)
        self._discrete = [name for name in discrete_columns or [] if name in self._columns]
        frame = data.reset_index(drop=True).copy()
        if self.synthesizer_name == "CopulaGANSynthesizer":
            frame = self._to_normal_scores(frame)
        frame[SEGMENT_COLUMN] = segments.astype(int)
        self._segment_shares = np.bincount(segments, minlength=num_segments) / len(segments)

        names = _NETWORK_PARAMETERS[self.synthesizer_name]
        arguments = {name: self._parameters[name] for name in names if name in self._parameters}
        network_class = ctgan.TVAE if self.synthesizer_name == "TVAESynthesizer" else ctgan.CTGAN
        self._network = network_class(**arguments)
        self._network.set_random_state(int(rng.integers(0, 2**31 - 1)))
        self._network.fit(frame, discrete_columns=[*self._discrete, SEGMENT_COLUMN])

    def _to_normal_scores(self, frame: pd.DataFrame) -> pd.DataFrame:
        default = self._parameters.get("default_distribution", "beta")
        per_column = self._parameters.get("numerical_distributions", {})
        for name in self._columns:
            if name in self._discrete:
                continue
            marginal = Marginal(per_column.get(name, default))
            values = frame[name].to_numpy(dtype=float)
            marginal.fit(values)
            self._marginals[name] = marginal
            probabilities = np.clip(marginal.cdf(values), _EPSILON, 1 - _EPSILON)
            frame[name] = stats.norm.ppf(probabilities)
        return frame

    def sample(
        self, segments: np.ndarray, rng: np.random.Generator, context: np.ndarray | None = None
    ) -> pd.DataFrame:
        """One row per entry of ``segments``, drawn for that segment (``context`` is unused)."""
        if self._network is None:
            raise SynthesizerError("the table's row model is not fitted; call fit first")
        self._network.set_random_state(int(rng.integers(0, 2**31 - 1)))
        out = pd.DataFrame(index=range(len(segments)), columns=self._columns, dtype=float)
        for segment in np.unique(segments):
            rows = np.flatnonzero(segments == segment)
            out.iloc[rows] = self._segment_rows(int(segment), len(rows))[self._columns].to_numpy()

        for name, marginal in self._marginals.items():
            probabilities = stats.norm.cdf(out[name].to_numpy(dtype=float))
            out[name] = marginal.ppf(probabilities)
        return out.astype(float)

    def _segment_rows(self, segment: int, count: int) -> pd.DataFrame:
        if self.synthesizer_name != "TVAESynthesizer":
            return self._network.sample(
                count, condition_column=SEGMENT_COLUMN, condition_value=segment
            ).reset_index(drop=True)

        share = max(float(self._segment_shares[segment]), 0.01)
        kept: list[pd.DataFrame] = []
        for _ in range(_TVAE_ROUNDS):
            draw = self._network.sample(int(count / share) + 10)
            kept.append(draw[draw[SEGMENT_COLUMN].astype(int) == segment])
            if sum(len(part) for part in kept) >= count:
                break
        rows = pd.concat(kept, ignore_index=True)
        if len(rows) < count:
            rows = pd.concat([rows, self._network.sample(count - len(rows))], ignore_index=True)
        return rows.head(count).reset_index(drop=True)

    def learned_distributions(self) -> dict[str, dict[str, Any]]:
        if self.synthesizer_name == "CopulaGANSynthesizer":
            return {name: marginal.describe() for name, marginal in self._marginals.items()}
        raise SynthesizerError(
            f"learned distributions exist only for copula tables; this table uses "
            f"{self.synthesizer_name}"
        )

    def loss_values(self) -> pd.DataFrame:
        """Loss per epoch: Epoch, Generator Loss, Discriminator Loss (TVAE: Epoch, Loss)."""
        if self._network is None:
            raise SynthesizerError("the table's row model is not fitted; call fit first")
        losses = getattr(self._network, "loss_values", None)
        if losses is None:
            raise SynthesizerError("this ctgan version records no loss values")
        losses = losses.rename(columns={"Distriminator Loss": "Discriminator Loss"})
        if "Batch" in losses:
            losses = losses.groupby("Epoch", as_index=False)["Loss"].mean()
        losses = losses.copy()
        losses["Epoch"] = losses["Epoch"].astype(int) + (1 if losses["Epoch"].min() == 0 else 0)
        return losses.reset_index(drop=True)
