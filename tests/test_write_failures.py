"""All or nothing: a write that fails part-way, for any reason, leaves the target as it was
(MySQL/MariaDB, which cannot roll back DDL, says exactly what is left)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

from hsa_db.db import create_engine, parse_location
from hsa_db.errors import WriteError
from hsa_db.write import write_tables
from tests.checks import row_counts
from tests.test_write import (
    dialect_of,
    execute,
    more_shop_data,
    read_rows,
    shop_data,
    shop_metadata,
)

Batch = dict[str, pd.DataFrame]


def table_names(url: str) -> set[str]:
    engine = create_engine(parse_location(url), must_exist=False)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def failing_batches(error: BaseException, data: Batch | None = None) -> Iterator[Batch]:
    """The sample rows split in two batches, then ``error`` instead of a third."""
    data = data or more_shop_data()
    yield {name: frame.iloc[:2] for name, frame in data.items()}
    yield {name: frame.iloc[2:] for name, frame in data.items()}
    raise error


def with_duplicate_customer() -> Batch:
    data = shop_data()
    data["customer"].loc[3, "id"] = 1
    return data


def with_dangling_order() -> Batch:
    data = shop_data()
    data["line"].loc[0, "order_id"] = 99
    return data


EXISTING = {name: len(frame) for name, frame in shop_data().items()}


@pytest.fixture
def written(empty_database: str) -> str:
    """A target that already holds the sample tables and rows."""
    write_tables(empty_database, shop_metadata(), shop_data())
    return empty_database


@pytest.mark.parametrize("error", [RuntimeError("sampling failed"), KeyboardInterrupt()])
def test_a_failing_batch_iterator_leaves_an_empty_target_empty(
    empty_database: str, error: BaseException
) -> None:
    with pytest.raises(type(error)):
        write_tables(empty_database, shop_metadata(), failing_batches(error))

    assert table_names(empty_database) == set()


@pytest.mark.parametrize("mode", ["truncate", "append", "replace"])
def test_a_failing_batch_iterator_leaves_existing_tables_alone(written: str, mode: str) -> None:
    error = RuntimeError("sampling failed")

    with pytest.raises((RuntimeError, WriteError)) as raised:
        write_tables(written, shop_metadata(), failing_batches(error), if_exists=mode)

    if dialect_of(written) == "mysql" and mode == "replace":
        assert isinstance(raised.value, WriteError)
        assert "were dropped before the failure" in str(raised.value)
        assert table_names(written) == set()
        return
    assert raised.value is error
    assert row_counts(written, shop_metadata()) == EXISTING


@pytest.mark.parametrize(
    ("data", "message"),
    [(with_duplicate_customer, "customer"), (with_dangling_order, "line|order")],
    ids=["duplicate key", "dangling foreign key"],
)
def test_a_constraint_violation_leaves_an_empty_target_empty(
    empty_database: str, data, message: str
) -> None:
    with pytest.raises(WriteError, match=f"({message}).*the target is unchanged") as raised:
        write_tables(empty_database, shop_metadata(), data())

    assert "\n" not in str(raised.value)
    assert table_names(empty_database) == set()


@pytest.mark.parametrize("mode", ["truncate", "append"])
def test_a_constraint_violation_keeps_the_existing_rows(written: str, mode: str) -> None:
    with pytest.raises(WriteError, match="the target is unchanged"):
        write_tables(written, shop_metadata(), with_dangling_order(), if_exists=mode)

    assert row_counts(written, shop_metadata()) == EXISTING
    assert read_rows(written, "customer", ["id", "email"])[0] == (1, "a@x.io")


def test_a_failed_replace_keeps_the_old_tables_or_says_they_are_gone(written: str) -> None:
    with pytest.raises(WriteError) as raised:
        write_tables(written, shop_metadata(), with_duplicate_customer(), if_exists="replace")

    if dialect_of(written) == "mysql":
        assert "tables customer, dept, employee" in str(raised.value)
        assert "were dropped before the failure" in str(raised.value)
        assert table_names(written) == set()
    else:
        assert "the target is unchanged" in str(raised.value)
        assert row_counts(written, shop_metadata()) == EXISTING


def test_an_append_that_repeats_a_unique_value_keeps_the_existing_rows(written: str) -> None:
    with pytest.raises(WriteError, match="the target is unchanged"):
        write_tables(written, shop_metadata(), shop_data(), if_exists="append")

    assert row_counts(written, shop_metadata()) == EXISTING


def test_data_for_an_unknown_table_is_refused(empty_database: str) -> None:
    data = shop_data() | {"ghost": pd.DataFrame({"id": [1]})}

    with pytest.raises(WriteError, match="table 'ghost' that the metadata lacks"):
        write_tables(empty_database, shop_metadata(), data)

    assert table_names(empty_database) == set()


def test_data_with_unknown_columns_is_refused(empty_database: str) -> None:
    data = shop_data()
    data["dept"]["budget"] = 1

    with pytest.raises(WriteError, match="dept.*budget"):
        write_tables(empty_database, shop_metadata(), data)

    assert table_names(empty_database) == set()


def test_an_unknown_if_exists_is_refused(sqlite_url: str) -> None:
    with pytest.raises(WriteError, match="if_exists='merge' is not known"):
        write_tables(sqlite_url, shop_metadata(), shop_data(), if_exists="merge")


def test_a_postgres_enum_with_other_labels_is_refused(postgres_url: str) -> None:
    from tests.test_write import every_type_frame, every_type_metadata

    execute(postgres_url, "CREATE TYPE mood AS ENUM ('calm')")

    with pytest.raises(WriteError, match="enum type mood already exists .*'calm'"):
        write_tables(postgres_url, every_type_metadata(), {"kinds": every_type_frame()})

    assert table_names(postgres_url) == set()


def test_truncate_refuses_to_orphan_rows_of_other_tables(written: str) -> None:
    """A table outside the metadata that references a truncated one stops the write."""
    execute(
        written,
        "CREATE TABLE review (id INTEGER PRIMARY KEY, customer_id INTEGER "
        "REFERENCES customer (id))",
        "INSERT INTO review VALUES (1, 4)",
    )
    fewer = shop_data()
    fewer["customer"].loc[3, "id"] = 5

    with pytest.raises(WriteError, match="the target is unchanged"):
        write_tables(written, shop_metadata(), fewer, if_exists="truncate")

    assert row_counts(written, shop_metadata()) == EXISTING
    assert read_rows(written, "review", ["id", "customer_id"]) == [(1, 4)]


def test_a_failed_write_removes_the_schema_it_created(empty_database: str) -> None:
    dialect = dialect_of(empty_database)
    if dialect == "sqlite":
        pytest.skip("SQLite has no schemas")
    schema = f"{parse_location(empty_database).url.database}_new" if dialect == "mysql" else "new"

    with pytest.raises(WriteError, match="the target is unchanged"):
        write_tables(empty_database, shop_metadata(), with_dangling_order(), schema=schema)

    engine = create_engine(parse_location(empty_database))
    try:
        assert schema not in sa.inspect(engine).get_schema_names()
    finally:
        engine.dispose()
