"""Gaussian copula row model: one copula per segment over the table's numeric columns, with
univariate marginals from the copulas library and a whole-table copula for small segments."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
from copulas.univariate import (
    BetaUnivariate,
    GammaUnivariate,
    GaussianKDE,
    GaussianUnivariate,
    TruncatedGaussian,
    UniformUnivariate,
    Univariate,
)
from scipy import stats

from hsa_db.errors import SynthesizerError

log = logging.getLogger(__name__)


class MomentBeta(BetaUnivariate):
    """A beta distribution over the column's range, its shape by the method of moments.

    The maximum-likelihood fit searches four parameters with Nelder-Mead and took most of a
    fit's time; as a copula marginal this closed form serves as well at a tiny fraction of it.
    """

    def _fit(self, X: np.ndarray) -> None:
        low, high = float(np.min(X)), float(np.max(X))
        if not high - low > 0:
            raise ValueError("a beta distribution needs a column with a range")
        margin = (high - low) * 1e-3
        loc, scale = low - margin, high - low + 2 * margin
        unit = (np.asarray(X, dtype=float) - loc) / scale
        mean, variance = float(unit.mean()), float(unit.var())
        spread = mean * (1 - mean) / variance - 1 if variance > 0 else 0.0
        if not spread > 0:
            raise ValueError("the column's moments admit no beta distribution")
        self._params = {"loc": loc, "scale": scale, "a": mean * spread, "b": (1 - mean) * spread}


#: Distribution names accepted in ``default_distribution`` and ``numerical_distributions``.
DISTRIBUTIONS: dict[str, type[Univariate]] = {
    "norm": GaussianUnivariate,
    "truncnorm": TruncatedGaussian,
    "beta": MomentBeta,
    "gamma": GammaUnivariate,
    "uniform": UniformUnivariate,
    "gaussian_kde": GaussianKDE,
}

#: A step function through the column's quantiles (exact frequencies).
EMPIRICAL = "empirical"

#: What to try when a distribution cannot be fitted to a column.
_FALLBACK = {"beta": "truncnorm", "gamma": "truncnorm", "truncnorm": "norm", "gaussian_kde": "norm"}

#: A segment with fewer rows than this (or than its columns) is sampled from the whole table.
MIN_SEGMENT_ROWS = 20
#: Marginals are fitted on at most this many rows, correlations on at most ``_MAX_CORR_ROWS``.
_MAX_FIT_ROWS = 2_000
_MAX_CORR_ROWS = 20_000
_EPSILON = 1e-6
_KDE_GRID = 1_024
_STEPS = 2_000
#: A numerical column with at most this many distinct values is discrete: its marginal is
#: empirical unless the table's parameters name a distribution for it.
MAX_DISCRETE_VALUES = 30


class Marginal:
    """One column's univariate distribution, falling back to simpler shapes when a fit fails.

    ``empirical`` is a step function through the column's quantiles: it keeps the exact
    frequencies of categories, NULL flags and numbers with few distinct values.
    """

    def __init__(self, distribution: str) -> None:
        self.requested = distribution
        self.distribution = distribution
        self._model: Univariate | None = None
        self._grid: tuple[np.ndarray, np.ndarray] | None = None
        self._steps: np.ndarray | None = None

    def fit(self, values: np.ndarray) -> None:
        if self.requested == EMPIRICAL:
            levels = np.linspace(0.0, 1.0, min(len(values), _STEPS) + 1)[1:]
            self._steps = np.quantile(values, levels, method="inverted_cdf")
            return

        name: str | None = self.requested
        while name is not None:
            model = DISTRIBUTIONS[name]()
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    model.fit(values)
                    probe = model.percent_point(np.array([0.01, 0.5, 0.99]))
                if np.isfinite(probe).all():
                    self._model, self.distribution = model, name
                    break
            except (ValueError, RuntimeError, FloatingPointError, np.linalg.LinAlgError):
                log.debug("fitting %s failed; trying a simpler distribution", name)
            name = _FALLBACK.get(name)
        if self._model is None:
            self._model, self.distribution = UniformUnivariate(), "uniform"
            self._model.fit(values)
        if self.distribution == "gaussian_kde":
            self._grid = self._kde_grid(values)

    def _kde_grid(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grid of the KDE's cdf, inverted by interpolation (its own inverse is slow)."""
        spread = float(np.std(values)) or 1.0
        grid = np.linspace(values.min() - spread, values.max() + spread, _KDE_GRID)
        cdf = np.maximum.accumulate(self._call("cumulative_distribution", grid))
        return cdf, grid

    def _call(self, method: str, values: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return np.asarray(getattr(self._model, method)(values), dtype=float)

    def cdf(self, values: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Probability of values up to each value; within a step of an empirical marginal, a
        random point of the step (so that ties get distinct normal scores)."""
        if self._steps is not None:
            count = len(self._steps)
            low = np.searchsorted(self._steps, values, side="left") / count
            high = np.searchsorted(self._steps, values, side="right") / count
            jitter = rng.random(len(values)) if rng is not None else np.full(len(values), 0.5)
            return low + jitter * (high - low)
        if self._grid is not None:
            cdf, grid = self._grid
            return np.interp(values, grid, cdf)
        return self._call("cumulative_distribution", values)

    def ppf(self, probabilities: np.ndarray) -> np.ndarray:
        if self._steps is not None:
            positions = np.ceil(probabilities * len(self._steps)).astype(int) - 1
            return self._steps[np.clip(positions, 0, len(self._steps) - 1)]
        if self._grid is not None:
            cdf, grid = self._grid
            return np.interp(probabilities, cdf, grid)
        return self._call("percent_point", probabilities)

    def describe(self) -> dict[str, Any]:
        """``{'distribution': name, 'learned_parameters': {...}}`` (None for a KDE or an
        empirical marginal)."""
        if self.distribution in ("gaussian_kde", EMPIRICAL) or self._model is None:
            return {"distribution": self.distribution, "learned_parameters": None}
        parameters = {
            key: float(value) for key, value in self._model.to_dict().items() if key != "type"
        }
        return {"distribution": self.distribution, "learned_parameters": parameters}


class GaussianCopula:
    """Marginals plus the correlation of the columns' normal scores.

    The last ``conditioned`` columns are context: sampling is given their values and draws
    the other columns from the normal distribution conditioned on them.
    """

    def __init__(self, distributions: list[str], conditioned: int = 0) -> None:
        self.marginals = [Marginal(name) for name in distributions]
        self.conditioned = conditioned
        self._factor = np.eye(len(distributions))
        self._regression = np.zeros((len(distributions) - conditioned, conditioned))
        self._residual = np.eye(len(distributions) - conditioned)

    def fit(self, values: np.ndarray, rng: np.random.Generator) -> None:
        """Fit on a rows-by-columns float array without NULLs."""
        rows = _subsample(len(values), _MAX_FIT_ROWS, rng)
        for column, marginal in enumerate(self.marginals):
            marginal.fit(values[rows, column])

        rows = _subsample(len(values), _MAX_CORR_ROWS, rng)
        scores = self._scores(values[rows], rng)
        with np.errstate(all="ignore"):
            correlation = np.corrcoef(scores, rowvar=False) if len(rows) > 1 else None
        self._factor = _cholesky(correlation, len(self.marginals))
        if self.conditioned:
            self._condition()

    def _condition(self) -> None:
        """The regression of the columns' normal scores on the context's, and a factor of
        what is left of their correlation."""
        own = len(self.marginals) - self.conditioned
        matrix = self._factor @ self._factor.T
        cross, inner = matrix[:own, own:], matrix[own:, own:]
        self._regression = np.linalg.solve(inner, cross.T).T
        residual = matrix[:own, :own] - self._regression @ cross.T
        self._residual = _cholesky(residual, own, normalize=False)

    def _scores(self, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        scores = np.empty_like(values, dtype=float)
        for column, marginal in enumerate(self.marginals):
            probabilities = marginal.cdf(values[:, column], rng)
            probabilities = np.clip(probabilities, _EPSILON, 1 - _EPSILON)
            scores[:, column] = stats.norm.ppf(probabilities)
        return scores

    def sample(
        self, count: int, rng: np.random.Generator, context: np.ndarray | None = None
    ) -> np.ndarray:
        """Rows of the columns that are not context, given the context's values if any."""
        own = len(self.marginals) - self.conditioned
        if context is None or self.conditioned == 0:
            normal = (rng.standard_normal((count, len(self.marginals))) @ self._factor.T)[:, :own]
        else:
            given = np.empty((count, self.conditioned))
            for column, marginal in enumerate(self.marginals[own:]):
                probabilities = marginal.cdf(context[:, column], rng)
                given[:, column] = stats.norm.ppf(np.clip(probabilities, _EPSILON, 1 - _EPSILON))
            normal = given @ self._regression.T
            normal += rng.standard_normal((count, own)) @ self._residual.T

        probabilities = stats.norm.cdf(normal)
        out = np.empty_like(probabilities)
        for column, marginal in enumerate(self.marginals[:own]):
            out[:, column] = marginal.ppf(probabilities[:, column])
        return out


class CopulaRowModel:
    """Per-segment Gaussian copulas of a table's transformed columns."""

    categorical_encoding = "uniform"

    def __init__(self, parameters: dict[str, Any]) -> None:
        self._default = parameters["default_distribution"]
        self._per_column: dict[str, str] = dict(parameters["numerical_distributions"])
        self._columns: list[str] = []
        self._whole: GaussianCopula | None = None
        self._segments: list[GaussianCopula | None] = []

    def fit(
        self,
        data: pd.DataFrame,
        segments: np.ndarray,
        num_segments: int,
        rng: np.random.Generator,
        discrete_columns: list[str] | None = None,
        context: np.ndarray | None = None,
    ) -> None:
        """Fit the whole-table copula and one per segment large enough to have its own; the
        ``context`` columns (one row per row of ``data``) join every copula as columns that
        sampling conditions on."""
        self._columns = list(data.columns)
        values = data.to_numpy(dtype=float)
        discrete = set(discrete_columns or [])
        distributions = [
            self._distribution(name, values[:, column], name in discrete)
            for column, name in enumerate(self._columns)
        ]
        conditioned = 0 if context is None else context.shape[1]
        if context is not None and conditioned:
            values = np.column_stack([values, context])
            distributions += [EMPIRICAL] * conditioned
        self._whole = GaussianCopula(distributions, conditioned)
        self._whole.fit(values, rng)

        self._segments = []
        minimum = max(MIN_SEGMENT_ROWS, len(distributions))
        for segment in range(num_segments):
            rows = segments == segment
            model = None
            if rows.sum() >= minimum and rows.sum() < len(values):
                model = GaussianCopula(distributions, conditioned)
                model.fit(values[rows], rng)
            elif rows.sum() == len(values):
                model = self._whole
            self._segments.append(model)

    def _distribution(self, name: str, values: np.ndarray, discrete: bool) -> str:
        """The column's distribution: the one the parameters name for it, else empirical for
        categories, flags and few-valued numbers, else the default."""
        if name in self._per_column:
            return self._per_column[name]
        if discrete or len(np.unique(values[:50_000])) <= MAX_DISCRETE_VALUES:
            return EMPIRICAL
        return str(self._default)

    def sample(
        self, segments: np.ndarray, rng: np.random.Generator, context: np.ndarray | None = None
    ) -> pd.DataFrame:
        """One row per entry of ``segments``, each from its segment's copula, conditioned on
        the row's ``context`` when the model was fitted with one."""
        if self._whole is None:
            raise SynthesizerError("the table's row model is not fitted; call fit first")
        out = np.empty((len(segments), len(self._columns)))
        for segment in np.unique(segments):
            rows = np.flatnonzero(segments == segment)
            model = self._segments[segment] if segment < len(self._segments) else None
            given = None if context is None else context[rows]
            out[rows] = (model or self._whole).sample(len(rows), rng, given)
        return pd.DataFrame(out, columns=self._columns)

    def learned_distributions(self) -> dict[str, dict[str, Any]]:
        """Whole-table marginal of every modelled column."""
        if self._whole is None:
            return {}
        return {
            name: marginal.describe()
            for name, marginal in zip(self._columns, self._whole.marginals, strict=False)
        }

    def loss_values(self) -> pd.DataFrame:
        raise SynthesizerError(
            "loss values exist only for neural tables (CTGAN, TVAE, CopulaGAN); "
            "this table uses GaussianCopulaSynthesizer"
        )


def _subsample(count: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    if count <= limit:
        return np.arange(count)
    return np.sort(rng.choice(count, size=limit, replace=False))


def _cholesky(correlation: np.ndarray | None, size: int, normalize: bool = True) -> np.ndarray:
    """A factor of the nearest valid correlation matrix (identity where undefined); of the
    nearest valid covariance matrix when not ``normalize``."""
    if correlation is None or size == 0:
        return np.eye(size)
    matrix = np.nan_to_num(np.atleast_2d(correlation), nan=0.0)
    if normalize:
        np.fill_diagonal(matrix, 1.0)
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    matrix = eigenvectors @ np.diag(np.maximum(eigenvalues, 1e-6)) @ eigenvectors.T
    if normalize:
        scale = np.sqrt(np.diag(matrix))
        matrix = matrix / np.outer(scale, scale)
    return np.linalg.cholesky(matrix + 1e-9 * np.eye(size))
