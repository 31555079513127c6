"""Reading rows: the dtype contract on the sample databases and in every dialect, PostgreSQL's
COPY with its special types, streaming in batches, folders of files and read errors."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from hsa_db import DatabaseError, Metadata, read_tables
from hsa_db.read import contract_dtype, iter_table
from hsa_db.reflect import reflect_metadata


def execute(url: str, statements: list[str]) -> None:
    """Run DDL/DML on a scratch database, then let go of it (DuckDB allows one writer)."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def exact_counts(url: str, tables: list[str]) -> dict[str, int]:
    engine = sa.create_engine(url)
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as connection:
        counts = {
            name: connection.exec_driver_sql(f"SELECT count(*) FROM {quote(name)}").scalar()
            for name in tables
        }
    engine.dispose()
    return counts


@pytest.mark.parametrize("database", ["chinook_pg", "northwind_pg", "chinook_sqlite"])
def test_sample_databases_read_with_contract_dtypes(
    request: pytest.FixtureRequest, database: str
) -> None:
    url = request.getfixturevalue(database)
    metadata = reflect_metadata(url)
    seen: list[tuple[str, str]] = []

    data = read_tables(url, metadata, progress=lambda *event: seen.append(event[:2]))

    assert {name: len(frame) for name, frame in data.items()} == exact_counts(
        url, list(metadata.tables)
    )
    assert seen == [("read", name) for name in metadata.tables]
    for name, frame in data.items():
        table = metadata.tables[name]
        assert list(frame.columns) == table.column_names
        for column in table.columns.values():
            assert str(frame[column.name].dtype) == contract_dtype(column.sql_type), (
                name,
                column.name,
            )


def test_sample_values_are_python_values(chinook_pg: str, northwind_pg: str) -> None:
    chinook = reflect_metadata(chinook_pg, tables=["invoice"])
    northwind = reflect_metadata(northwind_pg, tables=["employees"])

    invoice = read_tables(chinook_pg, chinook)["invoice"]
    employees = read_tables(northwind_pg, northwind)["employees"]

    assert invoice["total"].map(type).eq(Decimal).all()
    assert invoice["billing_state"].isna().any()
    assert employees["birth_date"].map(type).eq(dt.date).all()
    assert employees["photo"].dropna().map(type).eq(bytes).all()
    assert employees["reports_to"].isna().sum() == 1


# --------------------------------------------------------------------------- every dialect

# "at" is a reserved word in DuckDB: reading must quote every name.
DIALECT_TABLE = {
    "postgresql": "CREATE TABLE sample (id integer PRIMARY KEY, amount numeric(10,2), "
    'ratio double precision, flag boolean, label varchar(20), day date, "at" timestamp, '
    "clock time, note text, big bigint, small smallint)",
    "mysql": "CREATE TABLE sample (id integer PRIMARY KEY, amount numeric(10,2), ratio double, "
    "flag boolean, label varchar(20), day date, `at` datetime, clock time, note text, "
    "big bigint, small smallint)",
    "sqlite": "CREATE TABLE sample (id integer PRIMARY KEY, amount numeric(10,2), ratio double, "
    'flag boolean, label varchar(20), day date, "at" timestamp, clock time, note text, '
    "big bigint, small smallint)",
    "duckdb": "CREATE TABLE sample (id integer PRIMARY KEY, amount numeric(10,2), ratio double, "
    'flag boolean, label varchar(20), day date, "at" timestamp, clock time, note text, '
    "big bigint, small smallint)",
}
DIALECT_ROWS = (
    "INSERT INTO sample VALUES "
    "(1, 12.50, 0.25, TRUE, 'red', '2020-01-31', '2020-01-31 10:11:12', '08:30:00', 'a note', "
    "9007199254740993, -3), "
    "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
    "(3, -0.05, 1.5, FALSE, 'blue', '1999-12-31', '1999-12-31 23:59:59', '23:59:59', 'x', 0, 7)"
)
EXPECTED = pd.DataFrame(
    {
        "id": pd.array([1, 2, 3], dtype="Int32"),
        "amount": pd.Series([Decimal("12.50"), None, Decimal("-0.05")], dtype=object),
        "ratio": [0.25, float("nan"), 1.5],
        "flag": pd.array([True, None, False], dtype="boolean"),
        "label": pd.Series(["red", None, "blue"], dtype=object),
        "day": pd.Series([dt.date(2020, 1, 31), None, dt.date(1999, 12, 31)], dtype=object),
        "at": pd.to_datetime(["2020-01-31 10:11:12", None, "1999-12-31 23:59:59"]).astype(
            "datetime64[ns]"
        ),
        "clock": pd.Series([dt.time(8, 30), None, dt.time(23, 59, 59)], dtype=object),
        "note": pd.Series(["a note", None, "x"], dtype=object),
        "big": pd.array([9007199254740993, None, 0], dtype="Int64"),
        "small": pd.array([-3, None, 7], dtype="Int16"),
    }
)


def test_every_dialect_reads_the_same_frame(empty_database: str) -> None:
    dialect = make_url(empty_database).get_backend_name().replace("mariadb", "mysql")
    execute(empty_database, [DIALECT_TABLE[dialect], DIALECT_ROWS])
    metadata = reflect_metadata(empty_database)

    frame = read_tables(empty_database, metadata)["sample"].sort_values("id", ignore_index=True)

    pd.testing.assert_frame_equal(frame, EXPECTED)


def test_empty_table_keeps_its_dtypes(empty_database: str) -> None:
    dialect = make_url(empty_database).get_backend_name().replace("mariadb", "mysql")
    execute(empty_database, [DIALECT_TABLE[dialect]])
    metadata = reflect_metadata(empty_database)

    frames = list(iter_table(empty_database, metadata, "sample"))

    assert len(frames) == 1
    pd.testing.assert_series_equal(frames[0].dtypes, EXPECTED.dtypes)


# --------------------------------------------------------------------------- PostgreSQL COPY

POSTGRES_TYPES = [
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
    "CREATE DOMAIN positive AS integer CHECK (VALUE > 0)",
    "CREATE TABLE odd (id bigint PRIMARY KEY, feeling mood, moods mood[], scores integer[], "
    "words text[], grid integer[][], doc jsonb, raw json, token uuid, blob bytea, "
    "stamp timestamptz, local timestamp, span interval, price numeric(12,4), size positive, "
    "code char(4), ratio real, nothing text)",
    "INSERT INTO odd VALUES (1, 'happy', '{sad,ok}', '{1,NULL,3}', "
    '\'{"with space","quote\\"d",NULL,""}\', \'{{1,2},{3,4}}\', '
    '\'{"b": [1, 2], "a": null}\', \'{"keep":  "spacing"}\', '
    "'7d444840-9dc0-11d1-b245-5ffdce74fad2', '\\x00ff10', '2021-06-01 12:00:00+02', "
    "'2021-06-01 12:00:00', '1 day 02:03:04.5', 12.3456, 5, 'ab', 0.5, NULL)",
    "INSERT INTO odd (id) VALUES (2)",
]


def test_postgres_special_types_round_trip_through_copy(postgres_url: str) -> None:
    execute(postgres_url, POSTGRES_TYPES)
    metadata = reflect_metadata(postgres_url)

    frame = read_tables(postgres_url, metadata)["odd"].sort_values("id", ignore_index=True)
    first, second = frame.iloc[0], frame.iloc[1]

    assert first["feeling"] == "happy" and first["moods"] == ["sad", "ok"]
    assert first["scores"] == [1, None, 3]
    assert first["words"] == ["with space", 'quote"d', None, ""]
    assert first["grid"] == [[1, 2], [3, 4]]
    assert first["doc"] == '{"a": null, "b": [1, 2]}'
    assert first["raw"] == '{"keep":  "spacing"}'
    assert first["token"] == str(uuid.UUID("7d444840-9dc0-11d1-b245-5ffdce74fad2"))
    assert first["blob"] == b"\x00\xff\x10"
    assert first["stamp"] == pd.Timestamp("2021-06-01 10:00:00", tz="UTC")
    assert first["local"] == pd.Timestamp("2021-06-01 12:00:00")
    assert first["span"] == pd.Timedelta(days=1, hours=2, minutes=3, seconds=4.5)
    assert first["price"] == Decimal("12.3456") and isinstance(first["price"], Decimal)
    assert first["size"] == 5 and first["code"] == "ab" and first["ratio"] == 0.5
    assert second.drop("id").isna().all()
    assert str(frame["stamp"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["size"].dtype) == "Int32"


def test_postgres_source_is_opened_read_only(chinook_pg: str) -> None:
    from hsa_db.reflect import source_engine

    with source_engine(chinook_pg) as engine, engine.connect() as connection:
        setting = connection.exec_driver_sql("SHOW default_transaction_read_only").scalar()
    assert setting == "on"


# --------------------------------------------------------------------------- batches


@pytest.mark.parametrize("database", ["chinook_pg", "chinook_sqlite"])
def test_iter_table_streams_batches(request: pytest.FixtureRequest, database: str) -> None:
    url = request.getfixturevalue(database)
    metadata = reflect_metadata(url)
    table = "invoice" if database == "chinook_pg" else "Invoice"

    batches = list(iter_table(url, metadata, table, batch_rows=100))
    whole = read_tables(url, metadata, tables=[table])[table]

    assert [len(batch) for batch in batches] == [100, 100, 100, 100, 12]
    pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), whole)


@pytest.mark.parametrize("database", ["chinook_pg", "chinook_sqlite"])
def test_iter_table_can_stop_early(request: pytest.FixtureRequest, database: str) -> None:
    url = request.getfixturevalue(database)
    metadata = reflect_metadata(url)
    table = "track" if database == "chinook_pg" else "Track"

    batches = iter_table(url, metadata, table, batch_rows=10)
    first = next(batches)
    batches.close()

    assert len(first) == 10
    assert len(next(iter_table(url, metadata, table, batch_rows=10))) == 10


# --------------------------------------------------------------------------- files and errors


def test_folder_of_files_reads_through_duckdb(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("id,name,joined\n1,Ann,2020-01-02\n2,Bo,\n")
    (tmp_path / "orders.csv").write_text("order_id,customer_id,total\n1,1,2.5\n2,2,\n")
    metadata = reflect_metadata(str(tmp_path))

    data = read_tables(str(tmp_path), metadata)

    assert data["customers"]["joined"].tolist() == [dt.date(2020, 1, 2), None]
    assert str(data["orders"]["customer_id"].dtype) == "Int64"
    assert data["orders"]["total"].isna().tolist() == [False, True]


def test_missing_table_says_to_reflect_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    execute(url, ["CREATE TABLE a (id integer PRIMARY KEY)"])
    metadata = Metadata()
    metadata.add_table("gone")
    metadata.add_column("gone", "id", sdtype="id", sql_type="integer")

    with pytest.raises(DatabaseError, match="cannot read table 'gone' .*reflect it again"):
        read_tables(url, metadata)


def test_value_that_does_not_fit_its_type_names_the_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    execute(url, ["CREATE TABLE a (n integer)", "INSERT INTO a VALUES ('twelve')"])
    metadata = reflect_metadata(url)

    with pytest.raises(DatabaseError, match=r"column a\.n holds a value that is not integer"):
        read_tables(url, metadata)
