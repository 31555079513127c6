"""Segments: the primary-parent forest, clustering of rows into segments, and what a parent
segment says about its children (how many, and of which segments)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans

from hsa_db.context import expand, few_levels
from hsa_db.keys import Deck
from hsa_db.metadata import Metadata, Relationship

log = logging.getLogger(__name__)

#: Above this many rows, clustering uses mini-batch k-means.
MINI_BATCH_ROWS = 50_000
#: Weight of each child relationship's features against the row's own columns in k-means.
CHILD_WEIGHT = 1.0
#: Main directions kept of what a row's children look like.
SUMMARY_COMPONENTS = 3
#: Weight of the parent's segment in a child's segmentation, against the child's own columns.
PARENT_WEIGHT = 4.0
#: Largest relative spread of a child table's size that a primary parent may cause.
MAX_SIZE_NOISE = 0.2
#: A primary parent has at least this many rows.
MIN_PARENT_ROWS = 10


def eligible_parents(metadata: Metadata, table_name: str, order: list[str]) -> list[int]:
    """Indexes of the relationships that may be ``table_name``'s primary parent: neither a
    self-reference nor a key that closes a cycle (its parent comes first in ``order``)."""
    rank = {name: position for position, name in enumerate(order)}
    return [
        index
        for index, relationship in enumerate(metadata.relationships)
        if relationship.child_table == table_name
        and not relationship.is_self_reference
        and rank[relationship.parent_table] < rank[table_name]
    ]


def primary_score(positions: np.ndarray, parent_rows: int) -> tuple[bool, bool, float]:
    """How well a relationship serves as primary parent (larger is better).

    Only a parent with enough rows, whose children counts keep the child table's size steady
    even at half scale, qualifies: a few parents with very different counts would make the
    child table's size swing from sample to sample. Then a key that is never NULL comes first,
    then parents whose rows mostly have children and that are many: those groups say the
    most about the children.
    """
    linked = positions >= 0
    if parent_rows < MIN_PARENT_ROWS or not linked.any():
        return (False, False, 0.0)
    counts = np.bincount(positions[linked], minlength=parent_rows)
    noise = counts.std() / counts.mean() / math.sqrt(parent_rows / 2)
    if noise > MAX_SIZE_NOISE:
        return (False, False, 0.0)
    coverage = float((counts > 0).mean())
    return (True, bool(linked.all()), coverage * math.log1p(parent_rows))


def choose_primary(
    metadata: Metadata,
    order: list[str],
    positions: dict[int, np.ndarray],
    row_counts: dict[str, int],
    overrides: dict[str, int],
) -> dict[str, int]:
    """The primary relationship (index into ``metadata.relationships``) of each child table."""
    primary: dict[str, int] = {}
    for table_name in order:
        candidates = eligible_parents(metadata, table_name, order)
        if table_name in overrides:
            primary[table_name] = overrides[table_name]
            continue
        scored = [
            (
                primary_score(
                    positions[index], row_counts[metadata.relationships[index].parent_table]
                ),
                -index,
            )
            for index in candidates
        ]
        if scored:
            best, negative_index = max(scored)
            if best[0]:
                primary[table_name] = -negative_index
    return primary


def describe(relationship: Relationship) -> str:
    """``child(columns) -> parent(columns)`` for messages."""
    return (
        f"{relationship.child_table}({', '.join(relationship.child_columns)}) -> "
        f"{relationship.parent_table}({', '.join(relationship.parent_columns)})"
    )


# ---------------------------------------------------------------------- clustering


def summaries(
    order: list[str],
    numbers: dict[str, pd.DataFrame],
    primary: dict[str, int],
    positions: dict[int, np.ndarray],
    metadata: Metadata,
    edges: dict[str, dict[str, np.ndarray]],
) -> dict[str, np.ndarray]:
    """Per table, what its rows look like with their descendants: the row's own columns
    (category columns of few categories as indicators, ``edges`` giving their ends), then
    per primary child relationship the number of children and what they look like on average.

    Built children first, so that grandchildren count too. Each part is standardized and
    weighs the same however many columns it has; what the children look like is condensed to
    its main directions (``SUMMARY_COMPONENTS``) so that wide child tables do not drown the
    count of children.
    """
    out: dict[str, np.ndarray] = {}
    for name in reversed(order):
        rows = len(numbers[name])
        own = expand(numbers[name], list(numbers[name].columns), few_levels(edges[name]))
        blocks = [_block(own, 1.0)]
        for index, relationship in enumerate(metadata.relationships):
            if primary.get(relationship.child_table) != index or relationship.parent_table != name:
                continue
            counts, means = _children(positions[index], rows, out[relationship.child_table])
            blocks.append(_block(np.log1p(counts)[:, None], CHILD_WEIGHT))
            blocks.append(_block(_condense(means), CHILD_WEIGHT))
        out[name] = np.column_stack(blocks) if rows else np.empty((0, 0))
    return out


def _children(
    positions: np.ndarray, parent_rows: int, summary: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per parent row: its number of children and their mean summary."""
    linked = positions >= 0
    owners = positions[linked]
    counts = np.bincount(owners, minlength=parent_rows).astype(float)
    totals = np.zeros((parent_rows, summary.shape[1]))
    np.add.at(totals, owners, summary[linked])
    means = np.divide(totals, counts[:, None], out=np.zeros_like(totals), where=counts[:, None] > 0)
    return counts, means


def _condense(features: np.ndarray) -> np.ndarray:
    """The features projected on their ``SUMMARY_COMPONENTS`` main directions."""
    if features.shape[1] <= SUMMARY_COMPONENTS or len(features) < 2:
        return features
    centered = features - features.mean(axis=0)
    sample = centered[:: max(1, len(centered) // 20_000)]
    _, _, directions = np.linalg.svd(sample, full_matrices=False)
    return centered @ directions[:SUMMARY_COMPONENTS].T


def parent_segments(
    positions: np.ndarray, parent_labels: np.ndarray, parent_k: int, features: np.ndarray
) -> np.ndarray:
    """One-hot of each row's primary parent's segment (zeros without a parent), weighted by
    how much the parent's segment explains the row's features (the correlation ratio), so
    that children nest in their parents' segments where the parents matter to them."""
    out = np.zeros((len(positions), parent_k))
    linked = positions >= 0
    out[np.flatnonzero(linked), parent_labels[positions[linked]]] = 1.0
    if not linked.any() or features.shape[1] == 0:
        return out

    linked_features = features[linked]
    groups = parent_labels[positions[linked]]
    centered = linked_features - linked_features.mean(axis=0)
    total = float((centered**2).sum())
    between = 0.0
    for segment in np.unique(groups):
        members = groups == segment
        between += members.sum() * float((centered[members].mean(axis=0) ** 2).sum())
    ratio = math.sqrt(between / total) if total > 0 else 0.0
    return out * (PARENT_WEIGHT * ratio)


def cluster(features: np.ndarray, num_clusters: int, seed: int) -> tuple[np.ndarray, int]:
    """Segment labels 0..k-1 of every row (largest segment first) and k, with k at most
    ``num_clusters`` and at most the number of distinct rows."""
    rows = len(features)
    if rows == 0 or num_clusters <= 1 or features.shape[1] == 0:
        return np.zeros(rows, dtype=np.int64), 1
    k = min(num_clusters, len(np.unique(features[:20_000], axis=0)))
    if k <= 1:
        return np.zeros(rows, dtype=np.int64), 1

    if rows > MINI_BATCH_ROWS:
        model = MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=3, random_state=seed)
    else:
        model = KMeans(n_clusters=k, n_init=3, random_state=seed)
    labels = model.fit_predict(features)
    sizes = np.bincount(labels, minlength=k)
    relabel = np.empty(k, dtype=np.int64)
    relabel[np.argsort(-sizes, kind="stable")] = np.arange(k)

    return relabel[labels].astype(np.int64), k


def _block(features: np.ndarray, weight: float) -> np.ndarray:
    """Standardized columns scaled so that the whole block has variance ``weight**2``."""
    if features.size == 0:
        return features.reshape(len(features), 0)
    spread = features.std(axis=0)
    scaled = (features - features.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    return scaled * (weight / np.sqrt(features.shape[1]))


# ---------------------------------------------------------------------- children of a segment


@dataclass
class ChildStatistics:
    """A primary relationship seen from the parent's segments.

    For each parent segment, the real parents' (number of children, children per child
    segment) tuples with how often each was seen: dealing one gives a parent's children and
    their segments together. Children without a parent (a NULL key) are kept as a count per
    segment, and sampled like a root table.
    """

    tuples: list[np.ndarray]
    counts: list[np.ndarray]
    orphans: int
    orphan_counts: np.ndarray

    @classmethod
    def fit(
        cls,
        positions: np.ndarray,
        child_segments: np.ndarray,
        child_k: int,
        parent_segments: np.ndarray,
        parent_k: int,
    ) -> ChildStatistics:
        linked = positions >= 0
        mix = np.zeros((len(parent_segments), child_k), dtype=np.int64)
        np.add.at(mix, (positions[linked], child_segments[linked]), 1)
        rows = np.column_stack([mix.sum(axis=1), mix])

        tuples, counts = [], []
        for segment in range(parent_k):
            members = rows[parent_segments == segment]
            if len(members) == 0:
                members = np.zeros((1, child_k + 1), dtype=np.int64)
            unique, seen = np.unique(members, axis=0, return_counts=True)
            tuples.append(unique)
            counts.append(seen)

        orphan_counts = np.bincount(child_segments[~linked], minlength=child_k)
        return cls(tuples, counts, int((~linked).sum()), orphan_counts)

    def decks(self) -> list[Deck]:
        """One deck of tuples per parent segment, for a sampling run."""
        return [Deck(counts) for counts in self.counts]

    def draw(
        self, parent_segments: np.ndarray, decks: list[Deck], rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """For parent rows of the given segments: the parent position of every child and the
        child's segment, children grouped by parent."""
        child_k = self.tuples[0].shape[1] - 1
        mix = np.zeros((len(parent_segments), child_k), dtype=np.int64)
        for segment in np.unique(parent_segments):
            rows = np.flatnonzero(parent_segments == segment)
            picks = decks[segment].deal(len(rows), rng)
            mix[rows] = self.tuples[segment][picks, 1:]

        counts = mix.sum(axis=1)
        parents = np.repeat(np.arange(len(parent_segments)), counts)
        segments = np.repeat(np.tile(np.arange(child_k), len(parent_segments)), mix.ravel())
        return parents, segments
