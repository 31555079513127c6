"""Keys: new primary and unique keys, foreign keys that are not primary relationships (second
parents, cycle-closing keys), self-reference forests, and pairs that must not repeat."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hsa_db.codecs import ColumnCodec, is_null
from hsa_db.errors import SynthesizerError
from hsa_db.generate import random_uuids

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_CLASSES = {
    "\x00": np.array(list(string.ascii_uppercase)),
    "\x01": np.array(list(string.ascii_lowercase)),
    "\x02": np.array(list(string.digits)),
}
_MAX_SHAPES = 20
_ROUNDS = 8


# ---------------------------------------------------------------------- new key values


@dataclass
class KeyState:
    """What a sampling run has already handed out for one generated column."""

    next_number: int = 1
    seen: set[Any] = field(default_factory=set)
    group_counts: dict[Any, int] = field(default_factory=dict)
    largest: float = 0.0


@dataclass
class KeyGenerator:
    """Makes new, unique values for a key or identifier column in the shape of the real ones.

    Integers count up from 1; UUIDs are random version 4; strings follow the character
    classes of the real values (``ALFKI`` gives five capital letters) within the column length.
    """

    column: str
    kind: str
    shapes: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    length: int | None = None
    upper: float | None = None

    @classmethod
    def fit(cls, values: pd.Series, codec: ColumnCodec) -> KeyGenerator:
        """Learn the kind and shape of a column's values."""
        present = values[~is_null(values)]
        upper = codec.bounds[1] if codec.bounds else None
        if codec.kind in ("int", "decimal", "float"):
            return cls(codec.name, codec.kind, length=codec.length, upper=upper)
        if codec.kind != "str":
            raise SynthesizerError(
                f"cannot generate new values for key column {codec.name!r} of type "
                f"{codec.sql_type or codec.kind}; give it an integer, text or uuid type"
            )
        sample = [str(value) for value in present.head(5000)]
        if codec.sql_type == "uuid" or (sample and all(_UUID.fullmatch(v) for v in sample[:50])):
            return cls(codec.name, "uuid", length=codec.length)

        counts = Counter(_shape(value) for value in sample) or Counter({"\x00" * 8: 1})
        common = counts.most_common(_MAX_SHAPES)
        total = sum(count for _, count in common)
        return cls(
            codec.name,
            "str",
            shapes=[shape for shape, _ in common],
            weights=[count / total for _, count in common],
            length=codec.length,
        )

    def generate(self, count: int, rng: np.random.Generator, state: KeyState) -> list[Any]:
        """``count`` values never handed out before in this run."""
        if self.kind in ("int", "decimal", "float"):
            return self._numbers(count, state)
        if self.kind == "uuid":
            return random_uuids(count, rng)
        return self._strings(count, rng, state)

    def generate_in_groups(
        self, groups: Sequence[Any], rng: np.random.Generator, state: KeyState
    ) -> list[Any]:
        """Values unique within each group (numbers count 1, 2, ... per group)."""
        if self.kind not in ("int", "decimal", "float"):
            return self.generate(len(groups), rng, state)

        out = []
        for group in groups:
            number = state.group_counts.get(group, 0) + 1
            state.group_counts[group] = number
            out.append(number)
        return out

    def _numbers(self, count: int, state: KeyState) -> list[Any]:
        first = state.next_number
        state.next_number += count
        if self.upper is not None and state.next_number - 1 > self.upper:
            raise SynthesizerError(
                f"column {self.column!r} cannot hold {state.next_number - 1} keys; "
                "lower the scale or widen the column type"
            )
        return list(range(first, first + count))

    def _strings(self, count: int, rng: np.random.Generator, state: KeyState) -> list[str]:
        shapes = list(self.shapes)
        out: list[str] = []
        for round_number in range(_ROUNDS * 4):
            missing = count - len(out)
            if missing == 0:
                break
            if round_number and round_number % _ROUNDS == 0:
                shapes = self._longer(shapes)
            picks = rng.choice(len(shapes), size=missing, p=self._weights(len(shapes)))
            for value in _fill_shapes([shapes[i] for i in picks], rng):
                if value not in state.seen:
                    state.seen.add(value)
                    out.append(value)
        if len(out) < count:
            raise SynthesizerError(
                f"cannot make {count} unique values for column {self.column!r}; "
                "lower the scale or widen the column"
            )
        return out

    def _weights(self, count: int) -> np.ndarray:
        weights = np.asarray(self.weights[:count], dtype=float)
        return weights / weights.sum()

    def _longer(self, shapes: list[str]) -> list[str]:
        longer = []
        for shape in shapes:
            if self.length is not None and len(shape) >= self.length:
                longer.append(shape)
            else:
                longer.append(shape + (shape[-1] if shape and shape[-1] in _CLASSES else "\x02"))
        return longer


def _shape(value: str) -> str:
    out = []
    for char in value:
        if "A" <= char <= "Z":
            out.append("\x00")
        elif "a" <= char <= "z":
            out.append("\x01")
        elif "0" <= char <= "9":
            out.append("\x02")
        else:
            out.append(char)
    return "".join(out)


def _fill_shapes(shapes: list[str], rng: np.random.Generator) -> list[str]:
    out = []
    for shape in shapes:
        chars = [
            _CLASSES[token][rng.integers(0, len(_CLASSES[token]))] if token in _CLASSES else token
            for token in shape
        ]
        out.append("".join(chars))
    return out


# ---------------------------------------------------------------------- matching keys


def key_positions(parent_keys: list[pd.Series], child_keys: list[pd.Series]) -> np.ndarray:
    """Row position in the parent of every child's key (-1 for NULL or no match)."""
    if len(parent_keys) == 1:
        index = pd.Index(parent_keys[0].to_numpy(dtype=object))
        positions = index.get_indexer(child_keys[0].to_numpy(dtype=object))
    else:
        parent_index = pd.MultiIndex.from_arrays([s.to_numpy(dtype=object) for s in parent_keys])
        child_index = pd.MultiIndex.from_arrays([s.to_numpy(dtype=object) for s in child_keys])
        positions = parent_index.get_indexer(child_index)
    null = np.zeros(len(positions), dtype=bool)
    for series in child_keys:
        null |= is_null(series)
    positions[null] = -1

    return np.asarray(positions, dtype=np.int64)


@dataclass
class Distribution:
    """An empirical distribution of non-negative integers: the values seen and how often."""

    values: np.ndarray
    counts: np.ndarray

    @classmethod
    def fit(cls, observed: np.ndarray) -> Distribution:
        if len(observed) == 0:
            return cls(np.array([0]), np.array([1]))
        values, counts = np.unique(observed, return_counts=True)
        return cls(values, counts)

    def deck(self) -> Deck:
        return Deck(self.counts)


class Deck:
    """Deals items in proportion to their counts without replacement, starting over when the
    deck is empty: at scale 1 every count comes out exactly as often as it was seen, and any
    scale gets a stratified, low-variance share."""

    def __init__(self, counts: np.ndarray) -> None:
        counts = np.asarray(counts, dtype=np.int64)
        self._counts = counts if counts.sum() > 0 else np.ones_like(counts)
        self._remaining = self._counts.copy()

    def deal(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Indexes of ``count`` items, in random order."""
        parts = []
        while count > 0:
            available = int(self._remaining.sum())
            if available == 0:
                self._remaining = self._counts.copy()
                available = int(self._remaining.sum())
            take = min(count, available)
            drawn = rng.multivariate_hypergeometric(self._remaining, take)
            self._remaining -= drawn
            parts.append(np.repeat(np.arange(len(drawn)), drawn))
            count -= take
        if not parts:
            return np.empty(0, dtype=np.int64)
        return rng.permutation(np.concatenate(parts))


@dataclass
class LinkStatistics:
    """How a foreign key that is not a primary relationship spreads children over parents.

    Learned per segment: the share of NULL keys for each child segment, which parent segment
    a child of each segment points at, and how many children each parent row has (its degree).
    """

    null_share: np.ndarray
    parent_segment: np.ndarray
    degrees: list[Distribution]

    @classmethod
    def fit(
        cls,
        positions: np.ndarray,
        child_segments: np.ndarray,
        parent_segments: np.ndarray,
        child_k: int,
        parent_k: int,
    ) -> LinkStatistics:
        """Learn from the parent position of every child row (-1 for NULL)."""
        linked = positions >= 0
        null_share = np.zeros(child_k)
        mix = np.zeros((child_k, parent_k))
        for segment in range(child_k):
            rows = child_segments == segment
            if rows.any():
                null_share[segment] = 1.0 - linked[rows].mean()
            targets = parent_segments[positions[rows & linked]]
            mix[segment] = np.bincount(targets, minlength=parent_k)

        overall = mix.sum(axis=0) + 1e-9
        mix[mix.sum(axis=1) == 0] = overall
        degree = np.bincount(positions[linked], minlength=len(parent_segments))
        degrees = [Distribution.fit(degree[parent_segments == p]) for p in range(parent_k)]

        return cls(null_share, mix / mix.sum(axis=1, keepdims=True), degrees)


class Growing:
    """A numpy array that grows by appending, in amortized constant time per element."""

    def __init__(self, dtype: Any = np.int64) -> None:
        self._buffer = np.empty(64, dtype=dtype)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        end = self.size + len(values)
        if end > len(self._buffer):
            bigger = np.empty(max(end, 2 * len(self._buffer)), dtype=self._buffer.dtype)
            bigger[: self.size] = self._buffer[: self.size]
            self._buffer = bigger
        self._buffer[self.size : end] = values
        self.size = end

    @property
    def values(self) -> np.ndarray:
        return self._buffer[: self.size]


class KeyStore:
    """The key values of a table's rows sampled so far, looked up by row position."""

    def __init__(self, width: int) -> None:
        self._columns: list[list[Any]] = [[] for _ in range(width)]

    def __len__(self) -> int:
        return len(self._columns[0]) if self._columns else 0

    def add(self, keys: list[pd.Series]) -> None:
        for store, series in zip(self._columns, keys, strict=True):
            store.extend(series.tolist())

    def take(self, positions: np.ndarray) -> list[list[Any]]:
        """Per key column, the values at ``positions`` (None where the position is -1)."""
        return [
            [store[position] if position >= 0 else None for position in positions]
            for store in self._columns
        ]


class ParentPool:
    """The keys of the parent rows sampled so far for one relationship, with free stubs.

    Each parent row draws a degree from its segment's distribution when it is added; children
    take the free stubs in random order (a configuration model), so degrees follow the real
    ones. Only keys, segments and counts are kept, never whole rows.
    """

    def __init__(self, statistics: LinkStatistics, width: int) -> None:
        self._statistics = statistics
        self.keys = KeyStore(width)
        self._segments = Growing()
        self._degrees = Growing()
        self._stubs: list[np.ndarray] = [np.empty(0, dtype=np.int64) for _ in statistics.degrees]
        self._decks = [distribution.deck() for distribution in statistics.degrees]

    def __len__(self) -> int:
        return self._segments.size

    def add(self, keys: list[pd.Series], segments: np.ndarray, rng: np.random.Generator) -> None:
        """Register new parent rows."""
        start = len(self)
        degrees = np.zeros(len(segments), dtype=np.int64)
        for segment, distribution in enumerate(self._statistics.degrees):
            rows = np.flatnonzero(segments == segment)
            degrees[rows] = distribution.values[self._decks[segment].deal(len(rows), rng)]
            owners = np.repeat(rows + start, degrees[rows])
            stubs = np.concatenate([self._stubs[segment], owners])
            self._stubs[segment] = rng.permutation(stubs)

        self.keys.add(keys)
        self._segments.extend(segments.astype(np.int64))
        self._degrees.extend(degrees)

    def draw(self, child_segments: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A parent position for each child (-1 where the key is NULL or no parent exists)."""
        statistics = self._statistics
        out = np.full(len(child_segments), -1, dtype=np.int64)
        if len(self) == 0:
            return out
        null = rng.random(len(child_segments)) < statistics.null_share[child_segments]
        wanted = np.full(len(child_segments), -1, dtype=np.int64)
        for segment in np.unique(child_segments):
            rows = np.flatnonzero((child_segments == segment) & ~null)
            probabilities = statistics.parent_segment[segment]
            wanted[rows] = rng.choice(len(probabilities), size=len(rows), p=probabilities)

        for segment in np.unique(wanted[wanted >= 0]):
            rows = np.flatnonzero(wanted == segment)
            out[rows] = self._take(int(segment), len(rows), rng)
        return out

    def _take(self, segment: int, count: int, rng: np.random.Generator) -> np.ndarray:
        stubs = self._stubs[segment]
        taken = stubs[:count]
        self._stubs[segment] = stubs[count:]
        if len(taken) == count:
            return taken

        candidates = np.flatnonzero(self._segments.values == segment)
        if len(candidates) == 0:
            candidates = np.arange(len(self))
        return np.concatenate([taken, self._pick(candidates, count - len(taken), rng)])

    def _pick(self, candidates: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` rows among ``candidates``, likelier the larger their degree."""
        weights = self._degrees.values[candidates] + 1.0
        return np.asarray(rng.choice(candidates, size=count, p=weights / weights.sum()))

    def redraw(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` parent positions from all rows, for children whose first draw clashed."""
        if len(self) == 0:
            return np.full(count, -1, dtype=np.int64)
        return self._pick(np.arange(len(self)), count, rng)


# ---------------------------------------------------------------------- self-references


@dataclass
class ForestStatistics:
    """A self-reference: the share of rows without a parent and how many children rows have."""

    null_share: float
    fan_out: Distribution
    self_loops: bool

    @classmethod
    def fit(cls, positions: np.ndarray) -> ForestStatistics:
        """Learn from the parent position of every row of the table (-1 for NULL)."""
        linked = positions >= 0
        if len(positions) == 0:
            return cls(1.0, Distribution.fit(np.array([0])), False)
        loops = bool((positions[linked] == np.flatnonzero(linked)).all() and linked.all())
        fan_out = np.bincount(positions[linked], minlength=len(positions))
        return cls(float(1.0 - linked.mean()), Distribution.fit(fan_out), loops)


class Forest:
    """Grows a self-reference forest across batches: a row only points at an earlier row, so
    there are no cycles; the share of roots and the fan-out follow the real ones."""

    def __init__(self, statistics: ForestStatistics) -> None:
        self._statistics = statistics
        self._stubs: list[int] = []
        self._deck = statistics.fan_out.deck()
        self.size = 0

    def draw(self, count: int, nullable: bool, rng: np.random.Generator) -> np.ndarray:
        """Parent position (over all rows so far, this batch included) of ``count`` new rows;
        -1 marks a root (NULL), and a root of a NOT NULL key points at itself."""
        statistics = self._statistics
        degrees = statistics.fan_out.values[self._deck.deal(count, rng)]
        roots = rng.random(count) < statistics.null_share
        choices = rng.random(count)
        out = np.empty(count, dtype=np.int64)
        stubs = self._stubs

        for row in range(count):
            position = self.size + row
            if stubs and not roots[row]:
                slot = int(choices[row] * len(stubs))
                out[row] = stubs[slot]
                stubs[slot] = stubs[-1]
                stubs.pop()
            else:
                out[row] = -1 if nullable and not statistics.self_loops else position
            stubs.extend([position] * int(degrees[row]))
        self.size += count

        return out


# ---------------------------------------------------------------------- uniqueness


def duplicated_rows(columns: list[pd.Series], seen: set[tuple[Any, ...]]) -> np.ndarray:
    """Rows whose key repeats an earlier row or a key in ``seen`` (NULL keys never clash)."""
    values = list(zip(*[series.to_numpy(dtype=object) for series in columns], strict=True))
    null = np.zeros(len(values), dtype=bool)
    for series in columns:
        null |= is_null(series)
    out = np.zeros(len(values), dtype=bool)
    batch: set[tuple[Any, ...]] = set()
    for row, key in enumerate(values):
        if null[row]:
            continue
        if key in seen or key in batch:
            out[row] = True
        else:
            batch.add(key)
    return out


def remember(columns: list[pd.Series], seen: set[tuple[Any, ...]]) -> None:
    """Add the non-NULL keys of ``columns`` to ``seen``."""
    values = zip(*[series.to_numpy(dtype=object) for series in columns], strict=True)
    seen.update(key for key in values if not any(pd.isna(part) for part in key))


def refresh(values: pd.Series, rows: np.ndarray, codec: ColumnCodec, state: KeyState) -> pd.Series:
    """``values`` with the entries at ``rows`` replaced by values not seen before: text gets a
    numeric suffix within the column length, numbers move past the largest so far."""
    out = values.copy()
    present = values[~is_null(values)]
    if codec.kind in ("int", "float", "decimal") and len(present):
        state.largest = max(state.largest, float(max(present.tolist())))
    replacements: list[Any] = []
    for value in values.iloc[rows].tolist():
        state.next_number += 1
        if codec.kind in ("int", "float", "decimal"):
            state.largest += 1
            replacements.append(type(value)(state.largest) if value is not None else None)
        elif isinstance(value, str):
            suffix = f"-{state.next_number}"
            keep = len(value) if codec.length is None else max(codec.length - len(suffix), 0)
            replacements.append((value[:keep] + suffix)[: codec.length or None])
        else:
            replacements.append(value)
    replaced = codec.cast(pd.Series(replacements, dtype=object))
    out = out.astype(object)
    out.iloc[rows] = replaced.to_numpy(dtype=object)
    return codec.cast(out)
