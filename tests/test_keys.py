"""Keys: new key values, decks, parent pools, self-reference forests and repeated keys."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest

from hsa_db.codecs import ColumnCodec
from hsa_db.errors import SynthesizerError
from hsa_db.keys import (
    Deck,
    Distribution,
    Forest,
    ForestStatistics,
    KeyGenerator,
    KeyState,
    LinkStatistics,
    ParentPool,
    duplicated_rows,
    key_positions,
)
from hsa_db.metadata import Column


def _generator(values: pd.Series, sql_type: str) -> KeyGenerator:
    column = Column("key", sdtype="id", sql_type=sql_type)
    return KeyGenerator.fit(values, ColumnCodec.fit(values, column))


def test_integer_keys_count_up_across_calls() -> None:
    generator = _generator(pd.Series([7, 9, 12], dtype="Int32"), "integer")
    state, rng = KeyState(), np.random.default_rng(0)

    assert generator.generate(3, rng, state) == [1, 2, 3]
    assert generator.generate(2, rng, state) == [4, 5]
    assert generator.generate_in_groups(["a", "a", "b"], rng, KeyState()) == [1, 2, 1]


def test_small_integer_keys_refuse_to_overflow() -> None:
    generator = _generator(pd.Series([1, 2], dtype="Int16"), "smallint")

    with pytest.raises(SynthesizerError, match="cannot hold"):
        generator.generate(40_000, np.random.default_rng(0), KeyState())


def test_string_keys_keep_the_real_shape_and_stay_unique() -> None:
    real = pd.Series(["ALFKI", "ANATR", "BONAP", "ZX-12"], dtype=object)
    generator = _generator(real, "varchar(5)")
    state = KeyState()
    values = generator.generate(500, np.random.default_rng(0), state)
    values += generator.generate(500, np.random.default_rng(1), state)

    assert len(set(values)) == 1000
    assert all(len(value) == 5 for value in values)
    assert pd.Series(values).str.fullmatch(r"[A-Z]{5}|[A-Z]{2}-[0-9]{2}").all()


def test_string_keys_grow_within_the_column_length_when_the_shape_is_full() -> None:
    generator = _generator(pd.Series(["1", "2", "3"], dtype=object), "varchar(4)")
    values = generator.generate(500, np.random.default_rng(0), KeyState())

    assert len(set(values)) == 500
    assert max(len(value) for value in values) <= 4
    narrow = _generator(pd.Series(["1", "2"], dtype=object), "varchar(1)")
    with pytest.raises(SynthesizerError, match="unique values"):
        narrow.generate(20, np.random.default_rng(0), KeyState())


def test_uuid_keys() -> None:
    real = pd.Series([str(uuid.uuid4()) for _ in range(5)], dtype=object)
    values = _generator(real, "uuid").generate(10, np.random.default_rng(0), KeyState())

    assert all(uuid.UUID(value).version == 4 for value in values)
    assert len(set(values)) == 10


def test_deck_deals_exact_counts_then_starts_over() -> None:
    deck = Deck(np.array([3, 1, 0, 2]))
    rng = np.random.default_rng(0)

    assert np.bincount(deck.deal(6, rng), minlength=4).tolist() == [3, 1, 0, 2]
    assert np.bincount(deck.deal(12, rng), minlength=4).tolist() == [6, 2, 0, 4]
    assert len(Deck(np.array([0, 0])).deal(4, rng)) == 4


def test_key_positions_match_composite_and_null_keys() -> None:
    parents = [pd.Series([1, 1, 2], dtype="Int64"), pd.Series(["a", "b", "a"])]
    children = [pd.Series([2, 1, None, 3], dtype="Int16"), pd.Series(["a", "b", "a", "a"])]

    assert key_positions(parents, children).tolist() == [2, 1, -1, -1]


def test_parent_pool_follows_the_degree_distribution() -> None:
    degrees = np.array([0, 0, 1, 1, 2, 6])
    positions = np.repeat(np.arange(6), degrees)
    statistics = LinkStatistics.fit(
        positions, np.zeros(len(positions), dtype=int), np.zeros(6, dtype=int), 1, 1
    )
    pool = ParentPool(statistics, width=1)
    rng = np.random.default_rng(0)
    pool.add([pd.Series(range(600))], np.zeros(600, dtype=int), rng)
    drawn = pool.draw(np.zeros(1000, dtype=int), rng)

    assert (drawn >= 0).all()
    counts = np.bincount(drawn, minlength=600)
    assert np.bincount(counts).tolist() == [200, 200, 100, 0, 0, 0, 100]


def test_parent_pool_keeps_null_share_and_segment_mix() -> None:
    child_segments = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    positions = np.array([0, 0, -1, -1, 1, 1, 1, 1])
    statistics = LinkStatistics.fit(positions, child_segments, np.array([0, 1]), 2, 2)
    pool = ParentPool(statistics, width=1)
    rng = np.random.default_rng(0)
    pool.add([pd.Series(range(100))], np.repeat([0, 1], 50), rng)
    drawn = pool.draw(np.repeat([0, 1], 500), rng)

    assert 0.4 < (drawn[:500] < 0).mean() < 0.6
    assert (drawn[500:] >= 50).all()
    assert (drawn[:500][drawn[:500] >= 0] < 50).all()


def test_forest_has_no_cycles_and_keeps_the_root_share() -> None:
    parents = np.array([-1, 0, 0, 1, 1, 1, -1, 6, 6, 7])
    forest = Forest(ForestStatistics.fit(parents))
    rng = np.random.default_rng(0)
    drawn = np.concatenate([forest.draw(500, True, rng), forest.draw(500, True, rng)])

    assert (drawn < np.arange(1000)).all()
    assert 0.15 < (drawn == -1).mean() < 0.45


def test_forest_of_a_not_null_key_points_roots_at_themselves() -> None:
    forest = Forest(ForestStatistics.fit(np.array([0, 0, 1])))
    drawn = forest.draw(20, False, np.random.default_rng(0))

    assert drawn[0] == 0
    assert (drawn >= 0).all()


def test_distribution_of_nothing_is_zero() -> None:
    assert Distribution.fit(np.array([], dtype=int)).values.tolist() == [0]


def test_duplicated_rows_look_at_earlier_batches_and_skip_nulls() -> None:
    seen = {(1, "a")}
    columns = [pd.Series([1, 2, 2, None], dtype="Int64"), pd.Series(["a", "b", "b", "c"])]

    assert duplicated_rows(columns, seen).tolist() == [True, False, True, False]
