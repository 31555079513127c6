"""Context: what a row's ancestors along the primary relationships look like, as a few numbers
that the row model of a child table conditions on.

Segments carry the broad cross-table signal; the context keeps it inside a segment. A table's
*lineage* condenses each of its rows to at most ``WIDTH`` numbers: the main directions of the
row's own columns first, then the row's own context (its parent's lineage, and so on up the
chain), so that a grandparent's columns still reach a grandchild. A child row's context is its
primary parent's lineage; rows without a parent get zeros, in fitting and in sampling alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Main directions of a table's own columns in its lineage.
OWN_DIRECTIONS = 6
#: Numbers in a lineage: the table's own directions, then its ancestors'.
WIDTH = 12
#: A category column with at most this many categories becomes one indicator per category
#: (but the first): category codes carry no order a correlation could follow.
MAX_LEVELS = 10
#: Rows used to find the main directions.
_MAX_ROWS = 20_000


@dataclass
class Lineage:
    """How a table's rows are condensed for their children's row models."""

    columns: list[str]
    edges: dict[str, np.ndarray]
    mean: np.ndarray
    spread: np.ndarray
    directions: np.ndarray

    @classmethod
    def fit(cls, numbers: pd.DataFrame, edges: dict[str, np.ndarray]) -> Lineage:
        """Standardize the table's transformed columns (categories as indicators) and keep
        their main directions (all of them, unrotated, when there are no more than
        ``OWN_DIRECTIONS``); ``edges`` gives the category columns' interval ends."""
        edges = {name: ends for name, ends in few_levels(edges).items() if name in numbers}
        empty = cls(list(numbers.columns), edges, np.zeros(0), np.ones(0), np.zeros((0, 0)))
        values = empty._expand(numbers)
        width = values.shape[1]
        if len(values) == 0:
            return cls(empty.columns, edges, np.zeros(width), np.ones(width), np.eye(width)[:0])

        mean = values.mean(axis=0)
        spread = values.std(axis=0)
        spread = np.where(spread > 0, spread, 1.0)
        if width <= OWN_DIRECTIONS:
            return cls(empty.columns, edges, mean, spread, np.eye(width))

        scaled = (values - mean) / spread
        sample = scaled[:: max(1, len(scaled) // _MAX_ROWS)]
        _, _, directions = np.linalg.svd(sample, full_matrices=False)
        return cls(empty.columns, edges, mean, spread, directions[:OWN_DIRECTIONS])

    def apply(self, numbers: pd.DataFrame, context: np.ndarray | None) -> np.ndarray:
        """The lineage of rows given their transformed columns and their own context."""
        own = ((self._expand(numbers) - self.mean) / self.spread) @ self.directions.T
        if context is None:
            context = np.zeros((len(own), 0))
        return np.column_stack([own, context])[:, :WIDTH]

    def _expand(self, numbers: pd.DataFrame) -> np.ndarray:
        """The table's columns as floats, category columns as indicators."""
        return expand(numbers, self.columns, self.edges)


def few_levels(edges: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The category columns (by their interval ends) with at most ``MAX_LEVELS`` categories."""
    return {name: ends for name, ends in edges.items() if len(ends) <= MAX_LEVELS}


def expand(numbers: pd.DataFrame, columns: list[str], edges: dict[str, np.ndarray]) -> np.ndarray:
    """``columns`` of the transformed rows as floats (zeros where missing); the category
    columns in ``edges`` become one indicator per category but the first."""
    parts: list[np.ndarray] = []
    for name in columns:
        values = np.nan_to_num(numbers[name].to_numpy(dtype=float)) if name in numbers else None
        if values is None:
            values = np.zeros(len(numbers))
        if name in edges:
            levels = np.searchsorted(edges[name][:-1], values, side="right")
            parts.extend(levels == level for level in range(1, len(edges[name])))
        else:
            parts.append(values)
    if not parts:
        return np.zeros((len(numbers), 0))
    return np.column_stack(parts).astype(float)


def child_context(lineage: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """The context of child rows: their parent row's lineage (zeros without a parent)."""
    out = np.zeros((len(parents), lineage.shape[1]))
    linked = parents >= 0
    out[linked] = lineage[parents[linked]]
    return out
