"""Single-table row models: which synthesizers exist, their parameters and defaults."""

from __future__ import annotations

import copy
from typing import Any, Protocol

import numpy as np
import pandas as pd

from hsa_db.errors import SynthesizerError
from hsa_db.tables.copula import DISTRIBUTIONS

DEFAULT_SYNTHESIZER = "GaussianCopulaSynthesizer"

_COMMON = {"enforce_min_max_values": True, "enforce_rounding": True}
_GAN = {
    "embedding_dim": 128,
    "generator_dim": (256, 256),
    "discriminator_dim": (256, 256),
    "generator_lr": 2e-4,
    "generator_decay": 1e-6,
    "discriminator_lr": 2e-4,
    "discriminator_decay": 1e-6,
    "batch_size": 500,
    "discriminator_steps": 1,
    "log_frequency": True,
    "verbose": False,
    "epochs": 300,
    "pac": 10,
    "cuda": True,
}

#: Every synthesizer name a table may use, with its parameters and their defaults.
SYNTHESIZER_PARAMETERS: dict[str, dict[str, Any]] = {
    "GaussianCopulaSynthesizer": {
        **_COMMON,
        "numerical_distributions": {},
        "default_distribution": "beta",
    },
    "CTGANSynthesizer": {**_COMMON, **_GAN},
    "TVAESynthesizer": {
        **_COMMON,
        "embedding_dim": 128,
        "compress_dims": (128, 128),
        "decompress_dims": (128, 128),
        "l2scale": 1e-5,
        "batch_size": 500,
        "verbose": False,
        "epochs": 300,
        "loss_factor": 2,
        "cuda": True,
    },
    "CopulaGANSynthesizer": {
        **_COMMON,
        **_GAN,
        "numerical_distributions": {},
        "default_distribution": "beta",
    },
}

#: A table parameter of every synthesizer: how many segments the table is split into.
NUM_CLUSTERS = "num_clusters"


class RowModel(Protocol):
    """What the HSA needs from a single-table model of transformed (numeric) rows."""

    categorical_encoding: str

    def fit(
        self,
        data: pd.DataFrame,
        segments: np.ndarray,
        num_segments: int,
        rng: np.random.Generator,
        discrete_columns: list[str] | None = None,
        context: np.ndarray | None = None,
    ) -> None: ...

    def sample(
        self, segments: np.ndarray, rng: np.random.Generator, context: np.ndarray | None = None
    ) -> pd.DataFrame: ...

    def learned_distributions(self) -> dict[str, dict[str, Any]]: ...

    def loss_values(self) -> pd.DataFrame: ...


def default_parameters(synthesizer_name: str) -> dict[str, Any]:
    """A copy of a synthesizer's default parameters."""
    check_synthesizer(synthesizer_name)
    return copy.deepcopy(SYNTHESIZER_PARAMETERS[synthesizer_name])


def check_synthesizer(synthesizer_name: str) -> None:
    if synthesizer_name not in SYNTHESIZER_PARAMETERS:
        known = ", ".join(SYNTHESIZER_PARAMETERS)
        raise SynthesizerError(f"unknown synthesizer {synthesizer_name!r}; use one of {known}")


def check_parameters(
    table_name: str, synthesizer_name: str, parameters: dict[str, Any], columns: list[str]
) -> None:
    """Refuse parameters the synthesizer does not have, or values it cannot use."""
    check_synthesizer(synthesizer_name)
    known = set(SYNTHESIZER_PARAMETERS[synthesizer_name]) | {NUM_CLUSTERS}
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise SynthesizerError(
            f"{synthesizer_name} has no parameter {', '.join(map(repr, unknown))} (table "
            f"{table_name!r}); known parameters: {', '.join(sorted(known))}"
        )
    clusters = parameters.get(NUM_CLUSTERS, 1)
    if isinstance(clusters, bool) or not isinstance(clusters, int) or clusters < 1:
        raise SynthesizerError(
            f"num_clusters of table {table_name!r} must be a whole number of at least 1"
        )
    _check_distributions(table_name, parameters, columns)


def _check_distributions(table_name: str, parameters: dict[str, Any], columns: list[str]) -> None:
    names = ", ".join(DISTRIBUTIONS)
    default = parameters.get("default_distribution")
    if default is not None and default not in DISTRIBUTIONS:
        raise SynthesizerError(f"unknown distribution {default!r}; use one of {names}")
    per_column = parameters.get("numerical_distributions", {})
    if not isinstance(per_column, dict):
        raise SynthesizerError("numerical_distributions must map column names to distributions")
    for column, distribution in per_column.items():
        if column not in columns:
            raise SynthesizerError(
                f"numerical_distributions names column {column!r}, which table "
                f"{table_name!r} does not have"
            )
        if distribution not in DISTRIBUTIONS:
            raise SynthesizerError(
                f"unknown distribution {distribution!r} for column {column!r}; use one of {names}"
            )


def create_row_model(synthesizer_name: str, parameters: dict[str, Any]) -> RowModel:
    """A fresh, unfitted row model."""
    check_synthesizer(synthesizer_name)
    if synthesizer_name == DEFAULT_SYNTHESIZER:
        from hsa_db.tables.copula import CopulaRowModel

        return CopulaRowModel(parameters)

    from hsa_db.tables.neural import NeuralRowModel

    return NeuralRowModel(synthesizer_name, parameters)
