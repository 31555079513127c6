"""The bundled example database: deterministic, the structure it promises, the correlations its
docstring documents, and its DuckDB file."""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hsa_db.errors import WriteError
from hsa_db.example import (
    CACHE_DIR_VARIABLE,
    build_example,
    example_database_path,
    example_signals,
    orders_per_customer,
    write_example,
)
from hsa_db.metadata import Metadata
from tests.checks import dangling_foreign_keys, duplicate_keys, row_counts

#: Lowest and highest of each signal over seeds 0-5, as the module docstring gives them.
DOCUMENTED_SIGNALS = {
    "orders_tier_correlation": (0.37, 0.53),
    "orders_gold_bronze_ratio": (4.9, 9.7),
    "discount_tier_correlation": (0.83, 0.90),
    "discount_gold_bronze_gap": (0.153, 0.157),
}


@pytest.fixture(scope="module")
def example() -> tuple[Metadata, dict[str, pd.DataFrame]]:
    return build_example(0)


def _depth(metadata: Metadata, table: str) -> int:
    """Levels from a root down to ``table``, self-references left out."""
    parents = [rel.parent_table for rel in metadata.get_parents(table) if not rel.is_self_reference]
    return 1 + max((_depth(metadata, parent) for parent in parents), default=0)


def test_the_same_seed_gives_the_same_rows() -> None:
    metadata, first = build_example(seed=3)
    again_metadata, again = build_example(seed=3)
    _, other = build_example(seed=4)

    assert metadata == again_metadata
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])
    assert not first["customer"].equals(other["customer"])


def test_structure(example: tuple[Metadata, dict[str, pd.DataFrame]]) -> None:
    metadata, data = example
    metadata.validate()

    assert len(metadata.tables) >= 6
    assert set(data) == set(metadata.tables)
    assert max(_depth(metadata, name) for name in metadata.tables) >= 3
    two_parents = [
        name
        for name in metadata.tables
        if len({r.parent_table for r in metadata.get_parents(name)}) >= 2
    ]
    assert "order_item" in two_parents
    assert metadata.get_table("order_item").primary_key == ["order_id", "line_no"]
    assert [rel.child_columns for rel in metadata.self_references()] == [["referred_by"]]
    assert ["email"] in metadata.get_table("customer").unique_constraints
    assert metadata.get_column("orders", "status").enum_values
    pii = {c.name for c in metadata.get_table("customer").columns.values() if c.pii}
    assert {"first_name", "last_name", "email", "phone", "city"} <= pii
    assert 2_000 <= sum(len(frame) for frame in data.values()) <= 10_000


def test_every_column_has_metadata_and_a_complete_sql_type(
    example: tuple[Metadata, dict[str, pd.DataFrame]],
) -> None:
    metadata, data = example

    for name, frame in data.items():
        table = metadata.get_table(name)
        assert list(frame.columns) == table.column_names
        for column in table.columns.values():
            assert column.sql_type, f"{name}.{column.name} has no sql_type"
            if not column.nullable:
                assert frame[column.name].notna().all(), f"{name}.{column.name} has NULLs"


EXPECTED_DTYPES = {
    "smallint": "Int16",
    "integer": "Int32",
    "double": "float64",
    "boolean": "boolean",
    "timestamptz": "datetime64[ns, UTC]",
}
EXPECTED_OBJECTS = {"numeric": decimal.Decimal, "date": datetime.date, "varchar": str, "enum": str}


def test_dtypes_follow_the_shared_contract(
    example: tuple[Metadata, dict[str, pd.DataFrame]],
) -> None:
    metadata, data = example

    for name, frame in data.items():
        for column in metadata.get_table(name).columns.values():
            series = frame[column.name]
            base = str(column.sql_type).split("(")[0]
            if base in EXPECTED_DTYPES:
                assert str(series.dtype) == EXPECTED_DTYPES[base], f"{name}.{column.name}"
            else:
                assert series.dtype == object, f"{name}.{column.name}"
                values = series.dropna()
                assert all(isinstance(value, EXPECTED_OBJECTS[base]) for value in values)


def test_every_foreign_key_joins_and_every_key_is_unique(
    example: tuple[Metadata, dict[str, pd.DataFrame]],
) -> None:
    metadata, data = example

    for rel in metadata.relationships:
        child = data[rel.child_table][rel.child_columns].dropna()
        parent = data[rel.parent_table][rel.parent_columns]
        joined = child.merge(parent, left_on=rel.child_columns, right_on=rel.parent_columns)
        assert len(joined) == len(child), f"{rel.child_table}{rel.child_columns} dangles"
    for name, table in metadata.tables.items():
        for key in [table.primary_key, *table.unique_constraints]:
            assert not data[name].duplicated(subset=key).any(), f"{name}{key} repeats"


def test_referrals_form_a_forest(example: tuple[Metadata, dict[str, pd.DataFrame]]) -> None:
    customers = example[1]["customer"]
    referrer = dict(zip(customers["customer_id"], customers["referred_by"], strict=True))

    longest = 0
    for customer in referrer:
        seen, current = {customer}, referrer[customer]
        while not pd.isna(current):
            assert current not in seen, f"referral cycle through customer {customer}"
            seen.add(current)
            current = referrer[current]
        longest = max(longest, len(seen) - 1)
    referred = customers["referred_by"]

    assert 0.2 < referred.isna().mean() < 0.8
    assert longest >= 2
    assert referred.value_counts().max() >= 5


def test_child_counts_are_skewed(example: tuple[Metadata, dict[str, pd.DataFrame]]) -> None:
    data = example[1]
    orders = orders_per_customer(data)["orders"]
    lines_per_product = data["order_item"]["product_id"].value_counts()

    assert orders.max() >= 5 * orders.median()
    assert lines_per_product.max() >= 5 * lines_per_product.median()


def test_orders_are_consistent(example: tuple[Metadata, dict[str, pd.DataFrame]]) -> None:
    data = example[1]
    orders = data["orders"]
    shipped = orders["shipped_at"].notna()
    items = data["order_item"]
    line_total = (
        items["quantity"].astype(float)
        * items["unit_price"].astype(float)
        * (1 - items["discount"].astype(float))
    )
    totals = line_total.groupby(items["order_id"]).sum().round(2)
    paid = data["payment"].assign(amount=lambda frame: frame["amount"].astype(float))

    assert (orders.loc[shipped, "shipped_at"] > orders.loc[shipped, "placed_at"]).all()
    assert set(orders.loc[shipped, "status"]) == {"shipped", "delivered", "returned"}
    assert orders["order_id"].is_monotonic_increasing
    assert orders["placed_at"].is_monotonic_increasing
    paid_totals = paid.groupby("order_id")["amount"].sum()
    assert np.allclose(paid_totals, totals[paid_totals.index], atol=0.011)


@pytest.mark.parametrize("seed", range(6))
def test_signals_have_their_documented_strength(seed: int) -> None:
    signals = example_signals(build_example(seed)[1])

    assert set(signals) == set(DOCUMENTED_SIGNALS)
    for name, (low, high) in DOCUMENTED_SIGNALS.items():
        assert low <= signals[name] <= high, f"{name} = {signals[name]:.3f}"


def test_signals_vanish_without_the_dependency(
    example: tuple[Metadata, dict[str, pd.DataFrame]],
) -> None:
    data = dict(example[1])
    customers = data["customer"].copy()
    tiers = customers["loyalty_tier"].to_numpy()
    customers["loyalty_tier"] = np.random.default_rng(0).permutation(tiers)
    data["customer"] = customers

    signals = example_signals(data)

    assert abs(signals["orders_tier_correlation"]) < 0.15
    assert abs(signals["discount_tier_correlation"]) < 0.15
    assert abs(signals["discount_gold_bronze_gap"]) < 0.03


def test_signals_are_nan_where_undefined(example: tuple[Metadata, dict[str, pd.DataFrame]]) -> None:
    data = dict(example[1])
    data["customer"] = data["customer"].assign(loyalty_tier="silver")

    signals = example_signals(data)

    assert all(np.isnan(value) for value in signals.values())


def test_write_example(
    empty_database: str, example: tuple[Metadata, dict[str, pd.DataFrame]]
) -> None:
    metadata, data = example

    write_example(empty_database)

    assert row_counts(empty_database, metadata) == {name: len(f) for name, f in data.items()}
    assert not any(dangling_foreign_keys(empty_database, metadata).values())
    assert not any(duplicate_keys(empty_database, metadata).values())


def test_write_example_refuses_an_existing_example_unless_replaced(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    write_example(path, seed=1)

    with pytest.raises(WriteError, match="already has"):
        write_example(path)
    write_example(path, if_exists="replace")


def test_example_database_is_built_once_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path / "cache"))

    path = example_database_path()
    built = path.stat().st_mtime_ns
    again = example_database_path()

    assert again == path and path.parent == tmp_path / "cache"
    assert path.stat().st_mtime_ns == built
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    path.unlink()
    assert example_database_path().exists()
