"""Sampling a fitted HSA model in batches, parents before children.

A batch holds a share of every root table's rows with all their descendants, tables in
dependency order. Foreign keys that are not primary relationships point at rows of the same or
an earlier batch (the run keeps their keys, segments and free stubs, never whole rows); keys that
close a cycle are filled at the end of the batch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hsa_db.context import Lineage, child_context
from hsa_db.errors import SynthesizerError
from hsa_db.generate import ValueFactory
from hsa_db.keys import (
    Deck,
    Forest,
    ForestStatistics,
    KeyGenerator,
    KeyStore,
    LinkStatistics,
    ParentPool,
    duplicated_rows,
    refresh,
    remember,
)
from hsa_db.metadata import Metadata, Relationship
from hsa_db.segments import ChildStatistics
from hsa_db.tables import RowModel
from hsa_db.transform import GenerationState, TableTransformer

log = logging.getLogger(__name__)


_REDRAWS = 20
#: A root table whose rows and descendants fit in this share of a batch goes into the first one.
_SMALL_UNIT = 0.25


@dataclass
class TableModel:
    """Everything learned about one table."""

    name: str
    rows: int
    columns: list[str]
    transformer: TableTransformer
    row_model: RowModel | None
    num_segments: int
    segment_counts: np.ndarray
    key_generators: dict[str, KeyGenerator] = field(default_factory=dict)
    lineage: Lineage | None = None


@dataclass
class HSAModel:
    """A fitted model of a whole database."""

    order: list[str]
    tables: dict[str, TableModel]
    primary: dict[str, int]
    children: dict[int, ChildStatistics]
    links: dict[int, LinkStatistics]
    forests: dict[int, ForestStatistics]
    deferred: set[int]


@dataclass
class _Batch:
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    segments: dict[str, np.ndarray] = field(default_factory=dict)
    lineages: dict[str, np.ndarray] = field(default_factory=dict)


class SamplingRun:
    """One pass of sampling: its random streams, the keys handed out so far and the pools of
    parent keys that later batches may reference."""

    def __init__(
        self,
        metadata: Metadata,
        model: HSAModel,
        locales: list[str],
        scale: float | dict[str, float],
        seed: list[int],
    ) -> None:
        self._metadata = metadata
        self._model = model
        self._seed = seed
        self._factory = ValueFactory(locales)
        self._scales = self._effective_scales(scale)
        self._states = {name: GenerationState(self._factory) for name in model.order}
        self._pools = {
            index: ParentPool(statistics, len(metadata.relationships[index].parent_columns))
            for index, statistics in model.links.items()
        }
        self._forests = {index: Forest(stats) for index, stats in model.forests.items()}
        self._own_keys = {
            index: KeyStore(len(metadata.relationships[index].parent_columns))
            for index in model.forests
        }
        self._seen_pairs: dict[tuple[str, int], set[tuple[Any, ...]]] = {}
        self._child_decks = {index: stats.decks() for index, stats in model.children.items()}
        self._root_decks = {
            name: Deck(
                table.segment_counts
                if name not in model.primary
                else model.children[model.primary[name]].orphan_counts
            )
            for name, table in model.tables.items()
        }
        self.totals = {name: 0 for name in model.order}

    # ------------------------------------------------------------------ planning

    def _effective_scales(self, scale: float | dict[str, float]) -> dict[str, float]:
        """Scale of every table: its own, else its primary parent's, else the default."""
        given = dict(scale) if isinstance(scale, dict) else {"*": scale}
        default = given.pop("*", 1.0)
        for name, value in [("*", default), *given.items()]:
            if name != "*" and name not in self._model.tables:
                raise SynthesizerError(f"scale names unknown table {name!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise SynthesizerError(f"scale must be a positive number, not {value!r}")

        out: dict[str, float] = {}
        for name in self._model.order:
            index = self._model.primary.get(name)
            if name in given:
                out[name] = float(given[name])
            elif index is not None:
                out[name] = out[self._metadata.relationships[index].parent_table]
            else:
                out[name] = float(default)
        return out

    def _units(self, batch_rows: int) -> tuple[dict[str, list[int]], int]:
        """Rows of every root table (and of parentless children) per batch."""
        model = self._model
        subtree = self._subtree_rows()
        counts: dict[str, int] = {}
        for name in model.order:
            table = model.tables[name]
            index = model.primary.get(name)
            real = table.rows if index is None else model.children[index].orphans
            scaled = self._scales[name] * real
            counts[name] = 0 if real == 0 else int(round(scaled))
            if index is None and real > 0:
                counts[name] = max(1, counts[name])

        expected = {name: count * subtree[name] for name, count in counts.items()}
        batches = max(1, math.ceil(sum(expected.values()) / max(batch_rows, 1)))
        plan: dict[str, list[int]] = {}
        for name, count in counts.items():
            if expected[name] <= _SMALL_UNIT * batch_rows or batches == 1:
                plan[name] = [count] + [0] * (batches - 1)
            else:
                plan[name] = [len(part) for part in np.array_split(np.arange(count), batches)]
        return plan, batches

    def _subtree_rows(self) -> dict[str, float]:
        """Rows a table's row brings along through primary relationships, itself included."""
        model = self._model
        per_row = {name: 1.0 for name in model.order}
        for name in reversed(model.order):
            index = model.primary.get(name)
            if index is None:
                continue
            parent = self._metadata.relationships[index].parent_table
            table = model.tables[name]
            parent_rows = max(model.tables[parent].rows, 1)
            linked = table.rows - model.children[index].orphans
            per_row[parent] += per_row[name] * linked / parent_rows
        return per_row

    # ------------------------------------------------------------------ batches

    def batches(self, batch_rows: int) -> Iterator[dict[str, pd.DataFrame]]:
        """Yield ``{table: rows}`` batches until every root table's rows are out."""
        plan, count = self._units(batch_rows)
        for number in range(count):
            batch = _Batch()
            for position, name in enumerate(self._model.order):
                rng = self._rng(number, position)
                self._factory.reseed(int(rng.integers(0, 2**31 - 1)))
                self._sample_table(name, plan[name][number], batch, rng)
            self._fill_deferred(batch, number)
            for name, frame in batch.frames.items():
                self.totals[name] += len(frame)
            yield batch.frames

    def _rng(self, batch: int, table: int, purpose: int = 0) -> np.random.Generator:
        return np.random.default_rng([*self._seed, batch, table, purpose])

    def _sample_table(self, name: str, roots: int, batch: _Batch, rng: np.random.Generator) -> None:
        table = self._model.tables[name]
        segments, parents = self._rows(name, roots, batch, rng)
        context = self._context(name, parents, batch)
        frame, numbers = self._values(table, segments, rng, context)

        self._primary_key_values(name, frame, parents, batch)
        self._link_values(name, frame, segments, rng, deferred=False)
        keep = self._unique_links(name, frame, segments, rng)
        frame = frame[keep].reset_index(drop=True)
        segments = segments[keep]
        if table.lineage is not None:
            context = None if context is None else context[keep]
            batch.lineages[name] = table.lineage.apply(numbers[keep], context)
        self._generated_keys(name, frame, rng)
        self._self_references(name, frame, rng)
        self._unique_values(name, frame)
        self._register(name, frame, segments, rng)

        batch.frames[name] = frame[table.columns]
        batch.segments[name] = segments

    def _rows(
        self, name: str, roots: int, batch: _Batch, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Segments of the table's rows in this batch and the parent row of each (-1: none)."""
        index = self._model.primary.get(name)
        roots_segments = self._root_decks[name].deal(roots, rng)
        if index is None:
            return roots_segments, np.full(roots, -1)

        statistics = self._model.children[index]
        parent = self._metadata.relationships[index].parent_table
        parents, segments = statistics.draw(batch.segments[parent], self._child_decks[index], rng)
        parents, segments = self._rescale(name, parent, parents, segments, rng)
        orphans = roots_segments
        return (
            np.concatenate([segments, orphans]),
            np.concatenate([parents, np.full(roots, -1)]),
        )

    def _rescale(
        self,
        name: str,
        parent: str,
        parents: np.ndarray,
        segments: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Thin out or repeat children where the table's scale differs from its parent's."""
        ratio = self._scales[name] / self._scales[parent]
        if ratio == 1.0 or len(parents) == 0:
            return parents, segments
        copies = np.floor(ratio) + (rng.random(len(parents)) < ratio - np.floor(ratio))
        order = np.argsort(np.repeat(parents, copies.astype(int)), kind="stable")
        return (
            np.repeat(parents, copies.astype(int))[order],
            np.repeat(segments, copies.astype(int))[order],
        )

    def _context(self, name: str, parents: np.ndarray, batch: _Batch) -> np.ndarray | None:
        """The context of the rows: their primary parent row's lineage."""
        index = self._model.primary.get(name)
        if index is None:
            return None
        parent = self._metadata.relationships[index].parent_table
        return child_context(batch.lineages[parent], parents)

    def _values(
        self,
        table: TableModel,
        segments: np.ndarray,
        rng: np.random.Generator,
        context: np.ndarray | None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The rows' values, and the transformed numbers they came from."""
        transformer = table.transformer
        if table.row_model is None or not transformer.output_columns:
            numbers = pd.DataFrame(index=range(len(segments)))
        else:
            numbers = table.row_model.sample(segments, rng, context)
        frame = transformer.reverse_transform(numbers, self._states[table.name], rng)
        return frame, numbers

    # ------------------------------------------------------------------ foreign keys

    def _primary_key_values(
        self, name: str, frame: pd.DataFrame, parents: np.ndarray, batch: _Batch
    ) -> None:
        index = self._model.primary.get(name)
        if index is None:
            return
        relationship = self._metadata.relationships[index]
        parent_frame = batch.frames[relationship.parent_table]
        for child_column, parent_column in _pairs(relationship):
            values = parent_frame[parent_column].to_numpy(dtype=object)
            picked = np.full(len(parents), None, dtype=object)
            picked[parents >= 0] = values[parents[parents >= 0]]
            self._set_key(name, frame, child_column, picked)

    def _link_values(
        self,
        name: str,
        frame: pd.DataFrame,
        segments: np.ndarray,
        rng: np.random.Generator,
        deferred: bool,
    ) -> None:
        for index, pool in self._pools.items():
            relationship = self._metadata.relationships[index]
            if relationship.child_table != name or (index in self._model.deferred) != deferred:
                continue
            positions = pool.draw(segments, rng)
            self._check_missing(relationship, positions)
            for column, values in zip(
                relationship.child_columns, pool.keys.take(positions), strict=True
            ):
                self._set_key(name, frame, column, np.array(values, dtype=object))

    def _check_missing(self, relationship: Relationship, positions: np.ndarray) -> None:
        table = self._metadata.get_table(relationship.child_table)
        required = not all(table.columns[c].nullable for c in relationship.child_columns)
        if required and (positions < 0).any():
            raise SynthesizerError(
                f"table {relationship.parent_table!r} has no sampled rows for the NOT NULL key "
                f"{relationship.child_table}.{', '.join(relationship.child_columns)}; "
                "raise the scale of that table"
            )

    def _set_key(self, name: str, frame: pd.DataFrame, column: str, values: np.ndarray) -> None:
        codec = self._model.tables[name].transformer.codecs[column]
        frame[column] = codec.cast(pd.Series(values, dtype=object)).array

    def _fill_deferred(self, batch: _Batch, number: int) -> None:
        """Assign keys that close a cycle, now that the batch's parents exist."""
        names = {self._metadata.relationships[i].child_table for i in self._model.deferred}
        for name in names:
            rng = self._rng(number, self._model.order.index(name), purpose=1)
            frame = batch.frames[name]
            self._link_values(name, frame, batch.segments[name], rng, deferred=True)

    # ------------------------------------------------------------------ uniqueness

    def _unique_links(
        self, name: str, frame: pd.DataFrame, segments: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Rows to keep so that keys made only of foreign keys never repeat (link tables):
        clashing rows draw their second parent again, and are dropped if that fails."""
        keep = np.ones(len(frame), dtype=bool)
        foreign = self._metadata.foreign_key_columns(name)
        for number, key in enumerate(_unique_keys(self._metadata, name)):
            if not set(key) <= foreign:
                continue
            seen = self._seen_pairs.setdefault((name, number), set())
            redraw = self._redrawable(name, key)
            clash = duplicated_rows([frame[c] for c in key], seen) & keep
            for _ in range(_REDRAWS):
                if redraw is None or not clash.any():
                    break
                self._redraw(name, frame, redraw, np.flatnonzero(clash), rng)
                clash = duplicated_rows([frame[c] for c in key], seen) & keep
            keep &= ~clash
            remember([frame[c][keep] for c in key], seen)
        if not keep.all():
            log.info("table %s: dropped %d rows whose keys repeated", name, (~keep).sum())
        return keep

    def _redrawable(self, name: str, key: list[str]) -> int | None:
        candidates = [
            index
            for index in self._pools
            if self._metadata.relationships[index].child_table == name
            and index not in self._model.deferred
            and set(self._metadata.relationships[index].child_columns) <= set(key)
        ]
        return candidates[-1] if candidates else None

    def _redraw(
        self,
        name: str,
        frame: pd.DataFrame,
        index: int,
        rows: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        relationship = self._metadata.relationships[index]
        positions = self._pools[index].redraw(len(rows), rng)
        for column, values in zip(
            relationship.child_columns, self._pools[index].keys.take(positions), strict=True
        ):
            updated = frame[column].to_numpy(dtype=object)
            updated[rows] = values
            self._set_key(name, frame, column, updated)

    def _generated_keys(self, name: str, frame: pd.DataFrame, rng: np.random.Generator) -> None:
        """New values for key columns that no foreign key fills (primary and referenced keys)."""
        table = self._model.tables[name]
        state = self._states[name]
        foreign = self._metadata.foreign_key_columns(name)
        primary = self._metadata.get_table(name).primary_key
        group_columns = [column for column in primary if column in foreign]
        first_generated = next((c for c in primary if c not in foreign), None)

        for column, generator in table.key_generators.items():
            key_state = state.key_state(column)
            if column == first_generated and group_columns:
                groups = list(zip(*[frame[c].tolist() for c in group_columns], strict=True))
                values = generator.generate_in_groups(groups, rng, key_state)
            else:
                values = generator.generate(len(frame), rng, key_state)
            self._set_key(name, frame, column, np.array(values, dtype=object))

    def _self_references(self, name: str, frame: pd.DataFrame, rng: np.random.Generator) -> None:
        for index, forest in self._forests.items():
            relationship = self._metadata.relationships[index]
            if relationship.child_table != name:
                continue
            store = self._own_keys[index]
            store.add([frame[column] for column in relationship.parent_columns])
            table = self._metadata.get_table(name)
            nullable = all(table.columns[c].nullable for c in relationship.child_columns)
            positions = forest.draw(len(frame), nullable, rng)
            for column, values in zip(
                relationship.child_columns, store.take(positions), strict=True
            ):
                self._set_key(name, frame, column, np.array(values, dtype=object))

    def _unique_values(self, name: str, frame: pd.DataFrame) -> None:
        """Make unique keys that hold learned values unique (the first learned column of each
        clashing key gets a new value)."""
        table = self._model.tables[name]
        roles = table.transformer.roles
        state = self._states[name]
        for number, key in enumerate(_unique_keys(self._metadata, name)):
            learned = [column for column in key if roles.get(column) == "model"]
            if not learned:
                continue
            seen = self._seen_pairs.setdefault((name, -1 - number), set())
            clash = duplicated_rows([frame[c] for c in key], seen)
            if clash.any():
                column = learned[0]
                codec = table.transformer.codecs[column]
                frame[column] = refresh(
                    frame[column], np.flatnonzero(clash), codec, state.key_state(column)
                )
            remember([frame[c] for c in key], seen)

    def _register(
        self, name: str, frame: pd.DataFrame, segments: np.ndarray, rng: np.random.Generator
    ) -> None:
        """Offer this batch's rows as parents to the relationships that are not primary."""
        for index, pool in self._pools.items():
            relationship = self._metadata.relationships[index]
            if relationship.parent_table == name:
                pool.add([frame[c] for c in relationship.parent_columns], segments, rng)


def _pairs(relationship: Relationship) -> list[tuple[str, str]]:
    return list(zip(relationship.child_columns, relationship.parent_columns, strict=True))


def _unique_keys(metadata: Metadata, name: str) -> list[list[str]]:
    table = metadata.get_table(name)
    keys = [table.primary_key] if table.primary_key else []
    return keys + [key for key in table.unique_constraints if key]
