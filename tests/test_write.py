"""Writing a synthetic database: round trips of every DataFrame dtype, keys declared and holding,
the ``if_exists`` modes and sequences, in every dialect."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from hsa_db.db import create_engine, parse_location
from hsa_db.errors import WriteError
from hsa_db.metadata import Metadata
from hsa_db.write import create_schema_only, write_tables
from hsa_db.write.ddl import parse_sql_type
from tests.checks import dangling_foreign_keys, duplicate_keys, row_counts

UTC = dt.timezone.utc

# --------------------------------------------------------------------- sample schemas

EVERY_TYPE = {
    "id": "integer",
    "small": "smallint",
    "big": "bigint",
    "amount": "numeric(12,2)",
    "ratio": "double",
    "flag": "boolean",
    "born": "date",
    "wake": "time",
    "seen": "timestamp",
    "seen_tz": "timestamptz",
    "wait": "interval",
    "token": "uuid",
    "doc": "json",
    "blob": "binary",
    "tags": "text[]",
    "scores": "integer[]",
    "mood": "enum",
    "note": "text",
    "code": "char(3)",
    "label": "varchar(20)",
}


def every_type_metadata() -> Metadata:
    """One table with a column of every neutral type, a default and a generated column."""
    metadata = Metadata()
    metadata.add_table("kinds")
    for name, sql_type in EVERY_TYPE.items():
        extra: dict[str, Any] = {}
        if sql_type == "enum":
            extra = {"enum_values": ["happy", "sad"], "enum_name": "mood"}
        metadata.add_column(
            "kinds",
            name,
            sdtype="unknown",
            sql_type=sql_type,
            nullable=name != "id",
            identity=name == "id",
            **extra,
        )
    metadata.add_column(
        "kinds", "created", sdtype="datetime", sql_type="timestamptz", default="now()"
    )
    metadata.add_column(
        "kinds",
        "status",
        sdtype="categorical",
        sql_type="varchar(10)",
        default="'new'::character varying",
    )
    metadata.add_column(
        "kinds",
        "amount_twice",
        sdtype="numerical",
        sql_type="numeric(14,2)",
        generated="amount * 2",
    )
    metadata.set_primary_key("kinds", "id")
    return metadata


def every_type_frame() -> pd.DataFrame:
    """Two rows of values and one row of NULLs, in the DataFrame contract's dtypes."""
    return pd.DataFrame(
        {
            "id": pd.array([1, 2, 7], dtype="Int64"),
            "small": pd.array([3, None, -4], dtype="Int16"),
            "big": pd.array([2**40, None, -1], dtype="Int64"),
            "amount": [Decimal("1234.50"), None, Decimal("-0.01")],
            "ratio": [0.25, None, -1.5e10],
            "flag": pd.array([True, None, False], dtype="boolean"),
            "born": [dt.date(1990, 5, 17), None, dt.date(2024, 2, 29)],
            "wake": [dt.time(7, 30, 15, 250000), None, dt.time(23, 59, 59)],
            "seen": pd.to_datetime(
                ["2023-01-02 03:04:05.678901", None, "1999-12-31 23:59:59.000000"]
            ),
            "seen_tz": pd.to_datetime(
                ["2023-06-01 12:00:00.0", None, "2001-02-03 04:05:06.5"]
            ).tz_localize("UTC"),
            "wait": pd.to_timedelta(["1 days 02:03:04.5", None, "0 days 00:00:07"]),
            "token": [str(uuid.UUID(int=1)), None, str(uuid.UUID(int=2**100))],
            "doc": ['{"a": [1, 2], "b": "x"}', None, '"plain"'],
            "blob": [b"\x00\x01\xff", None, b"bytes"],
            "tags": [["red", "green blue", 'q"uote'], None, []],
            "scores": [[1, 2, 3], None, [-5]],
            "mood": ["happy", None, "sad"],
            "note": ["line\nbreak and 'quotes' \\ backslash", None, "é ünïcode ✓"],
            "code": ["abc", None, "xyz"],
            "label": ["first", None, "third"],
        }
    )


def shop_metadata() -> Metadata:
    """Keys of every shape: identity, a unique non-primary key referenced by a foreign key, a
    self-reference, a composite key and composite foreign key, a two-table cycle closed by a
    nullable key, and a table without a primary key."""
    metadata = Metadata()
    tables = {
        "customer": {
            "id": "integer",
            "email": "varchar(80)",
            "referrer_id": "integer",
            "name": "text",
        },
        "orders": {"id": "bigint", "customer_email": "varchar(80)", "placed": "date"},
        "line": {
            "order_id": "bigint",
            "line_no": "smallint",
            "qty": "integer",
            "price": "numeric(8,2)",
        },
        "line_note": {"id": "integer", "order_id": "bigint", "line_no": "smallint", "note": "text"},
        "dept": {"id": "integer", "name": "text", "head_id": "integer"},
        "employee": {"id": "integer", "dept_id": "integer", "name": "text"},
        "event_log": {"customer_id": "integer", "message": "text"},
    }
    not_null = {("customer", "email"), ("employee", "dept_id"), ("line", "qty")}
    for table, columns in tables.items():
        metadata.add_table(table)
        for name, sql_type in columns.items():
            metadata.add_column(
                table,
                name,
                sdtype="id" if "id" in name else "categorical",
                sql_type=sql_type,
                nullable=(table, name) not in not_null and name != "id",
                identity=table == "customer" and name == "id",
            )
    for table in ("customer", "orders", "line_note", "dept", "employee"):
        metadata.set_primary_key(table, "id")
    metadata.set_primary_key("line", ["order_id", "line_no"])
    metadata.update_column("line", "order_id", nullable=False)
    metadata.update_column("line", "line_no", nullable=False)
    metadata.add_unique_constraint("customer", "email")
    metadata.add_relationship("customer", "customer", "id", "referrer_id")
    metadata.add_relationship("customer", "orders", "email", "customer_email")
    metadata.add_relationship("orders", "line", "id", "order_id")
    metadata.add_relationship("line", "line_note", ["order_id", "line_no"], ["order_id", "line_no"])
    metadata.add_relationship("dept", "employee", "id", "dept_id")
    metadata.add_relationship("employee", "dept", "id", "head_id")
    metadata.add_relationship("customer", "event_log", "id", "customer_id")
    metadata.tables["orders"].indexes.append(
        {"name": "orders_placed_idx", "columns": ["placed"], "unique": False}
    )
    return metadata


def ints(*values: int | None) -> pd.arrays.IntegerArray:
    return pd.array(list(values), dtype="Int64")


def shop_data() -> dict[str, pd.DataFrame]:
    return {
        "customer": pd.DataFrame(
            {
                "id": ints(1, 2, 3, 4),
                "email": ["a@x.io", "b@x.io", "c@x.io", "d@x.io"],
                "referrer_id": ints(None, 1, 1, 2),
                "name": ["Ann", "Bob", None, "Dee"],
            }
        ),
        "orders": pd.DataFrame(
            {
                "id": ints(1, 2, 3, 4, 5),
                "customer_email": ["a@x.io", "a@x.io", "c@x.io", None, "d@x.io"],
                "placed": [dt.date(2024, 1, day) for day in range(1, 6)],
            }
        ),
        "line": pd.DataFrame(
            {
                "order_id": ints(1, 1, 2, 3, 5),
                "line_no": pd.array([1, 2, 1, 1, 1], dtype="Int16"),
                "qty": pd.array([1, 2, 3, 4, 5], dtype="Int32"),
                "price": [
                    Decimal("9.99"),
                    Decimal("0.50"),
                    Decimal("100.00"),
                    None,
                    Decimal("1.25"),
                ],
            }
        ),
        "line_note": pd.DataFrame(
            {
                "id": ints(1, 2),
                "order_id": ints(1, 5),
                "line_no": pd.array([2, 1], dtype="Int16"),
                "note": ["gift", "rush"],
            }
        ),
        "dept": pd.DataFrame(
            {"id": ints(1, 2), "name": ["Sales", "Ops"], "head_id": ints(1, None)}
        ),
        "employee": pd.DataFrame(
            {
                "id": ints(1, 2, 3),
                "dept_id": ints(1, 1, 2),
                "name": ["Eve", "Fay", "Gus"],
            }
        ),
        "event_log": pd.DataFrame(
            {
                "customer_id": ints(1, None, 1),
                "message": ["login", "anonymous", "logout"],
            }
        ),
    }


def more_shop_data() -> dict[str, pd.DataFrame]:
    """The sample rows again, with other e-mail addresses (a unique key) so they can be added."""
    data = shop_data()
    data["customer"]["email"] = ["e@x.io", "f@x.io", "g@x.io", "h@x.io"]
    data["orders"]["customer_email"] = ["e@x.io", "e@x.io", "g@x.io", None, "h@x.io"]
    return data


# --------------------------------------------------------------------- reading back


def dialect_of(url: str) -> str:
    return parse_location(url).dialect


def read_rows(url: str, table: str, columns: list[str], schema: str | None = None) -> list[tuple]:
    """Rows of ``table`` ordered by their first column, read through SQLAlchemy."""
    engine = create_engine(parse_location(url))
    quote = engine.dialect.identifier_preparer.quote
    name = f"{quote(schema)}.{quote(table)}" if schema else quote(table)
    listed = ", ".join(quote(column) for column in columns)
    try:
        with engine.connect() as connection:
            result = connection.exec_driver_sql(
                f"SELECT {listed} FROM {name} ORDER BY {quote(columns[0])}"
            )
            return [tuple(row) for row in result]
    finally:
        engine.dispose()


def canonical(value: Any, sql_type: str) -> Any:
    """A value read from any dialect, or taken from a DataFrame, in one comparable form."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    kind = parse_sql_type(sql_type)
    if kind.array:
        items = json.loads(value) if isinstance(value, str) else list(value)
        return [canonical(item, str(kind.base)) for item in items]
    return _canonical_scalar(value, kind.base)


def _canonical_scalar(value: Any, base: str) -> Any:
    if base in ("smallint", "integer", "bigint"):
        return int(value)
    if base == "numeric":
        return Decimal(str(value)).normalize()
    if base in ("real", "double"):
        return round(float(value), 6)
    if base == "boolean":
        return bool(value)
    if base == "json":
        return _json_value(value)
    if base == "binary":
        return bytes(value)
    if base == "uuid":
        return str(value).lower()
    if base == "date":
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
    if base == "time":
        if isinstance(value, dt.timedelta):  # MySQL returns TIME as a timedelta
            return (dt.datetime(2000, 1, 1) + value).time()
        return value if isinstance(value, dt.time) else dt.time.fromisoformat(value)
    if base in ("timestamp", "timestamptz"):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp.to_pydatetime()
    if base == "interval":
        if isinstance(value, int):
            return dt.timedelta(microseconds=value)
        return pd.Timedelta(value).to_pytimedelta()
    return str(value)


def _json_value(value: Any) -> Any:
    """A JSON document, whether the driver parsed it already or returned its text."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def declared_foreign_keys(url: str, tables: list[str], schema: str | None = None) -> set[tuple]:
    """(child, child columns, parent, parent columns) of the foreign keys in the target."""
    engine = create_engine(parse_location(url))
    try:
        if engine.dialect.name == "duckdb":
            with engine.connect() as connection:
                rows = connection.exec_driver_sql(
                    "SELECT table_name, constraint_column_names, referenced_table, "
                    "referenced_column_names FROM duckdb_constraints() "
                    "WHERE constraint_type = 'FOREIGN KEY'"
                ).fetchall()
            return {(c, tuple(cc), p, tuple(pc)) for c, cc, p, pc in rows}
        inspector = sa.inspect(engine)
        return {
            (
                table,
                tuple(fk["constrained_columns"]),
                fk["referred_table"],
                tuple(fk["referred_columns"]),
            )
            for table in tables
            for fk in inspector.get_foreign_keys(table, schema=schema)
        }
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    engine = create_engine(parse_location(url), must_exist=False)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def scalar(url: str, sql: str) -> Any:
    engine = create_engine(parse_location(url))
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql(sql).scalar()
    finally:
        engine.dispose()


def relationship_keys(metadata: Metadata) -> set[tuple]:
    return {
        (rel.child_table, tuple(rel.child_columns), rel.parent_table, tuple(rel.parent_columns))
        for rel in metadata.relationships
    }


CYCLE_KEY = ("dept", ("head_id",), "employee", ("id",))


# --------------------------------------------------------------------- round trips


def test_every_dtype_round_trips(empty_database: str) -> None:
    metadata, frame = every_type_metadata(), every_type_frame()

    summary = write_tables(empty_database, metadata, {"kinds": frame})

    assert summary.rows == {"kinds": 3}
    assert summary.warnings == []
    columns = list(EVERY_TYPE)
    rows = read_rows(empty_database, "kinds", columns)
    expected = [
        tuple(canonical(value, EVERY_TYPE[name]) for name, value in zip(columns, row, strict=True))
        for row in frame[columns].astype(object).itertuples(index=False)
    ]
    got = [
        tuple(canonical(value, EVERY_TYPE[name]) for name, value in zip(columns, row, strict=True))
        for row in rows
    ]
    assert got == expected


def test_defaults_and_generated_columns_are_left_to_the_database(empty_database: str) -> None:
    frame = every_type_frame()
    frame["amount_twice"] = [Decimal("0")] * 3  # must be ignored: the database computes it

    write_tables(empty_database, every_type_metadata(), {"kinds": frame})

    rows = read_rows(empty_database, "kinds", ["id", "status", "created", "amount_twice"])
    assert [row[1] for row in rows] == ["new", "new", "new"]
    assert all(row[2] is not None for row in rows)
    assert canonical(rows[0][3], "numeric") == Decimal("2469")
    assert rows[1][3] is None


def test_keys_are_declared_and_hold(empty_database: str) -> None:
    metadata = shop_metadata()

    summary = write_tables(empty_database, metadata, shop_data())

    declared = declared_foreign_keys(empty_database, list(metadata.tables))
    expected = relationship_keys(metadata)
    if dialect_of(empty_database) == "duckdb":
        expected.discard(CYCLE_KEY)
        assert any(
            "DuckDB cannot declare the foreign key dept(head_id)" in warning
            for warning in summary.warnings
        )
    else:
        assert summary.warnings == []
    assert declared == expected
    assert set(dangling_foreign_keys(empty_database, metadata).values()) == {0}
    assert set(duplicate_keys(empty_database, metadata).values()) == {0}
    assert row_counts(empty_database, metadata) == {
        name: len(frame) for name, frame in shop_data().items()
    }


def test_primary_and_unique_keys_are_enforced(empty_database: str) -> None:
    write_tables(empty_database, shop_metadata(), shop_data())
    statements = [
        "INSERT INTO customer (id, email) VALUES (1, 'new@x.io')",
        "INSERT INTO customer (id, email) VALUES (99, 'a@x.io')",
        "INSERT INTO line (order_id, line_no, qty) VALUES (1, 1, 1)",
    ]
    if dialect_of(empty_database) != "sqlite":  # SQLite checks keys only where a connection
        # turns on PRAGMA foreign_keys
        statements.append("INSERT INTO line_note (id, order_id, line_no) VALUES (9, 4, 1)")

    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError):
            execute(empty_database, statement)


def test_batches_arrive_in_any_order(empty_database: str) -> None:
    metadata, data = shop_metadata(), shop_data()
    children_first = list(reversed(list(data)))
    batches = [
        {name: data[name].iloc[half] for name in children_first}
        for half in (slice(None, 1), slice(1, None))
    ]
    calls: list[tuple] = []

    summary = write_tables(
        empty_database, metadata, iter(batches), progress=lambda *call: calls.append(call)
    )

    assert summary.rows == {name: len(frame) for name, frame in data.items()}
    assert sorted(calls) == sorted(("write", name, len(frame)) for name, frame in data.items())
    assert set(dangling_foreign_keys(empty_database, metadata).values()) == {0}


def test_tables_without_rows_are_created_empty(empty_database: str) -> None:
    metadata = shop_metadata()

    summary = create_schema_only(empty_database, metadata)

    assert summary.rows == dict.fromkeys(metadata.tables, 0)
    assert set(row_counts(empty_database, metadata).values()) == {0}


def test_sequences_move_past_the_largest_key(empty_database: str) -> None:
    write_tables(empty_database, every_type_metadata(), {"kinds": every_type_frame()})

    execute(empty_database, "INSERT INTO kinds (note) VALUES ('added later')")

    assert scalar(empty_database, "SELECT id FROM kinds WHERE note = 'added later'") == 8


def test_schema_is_created(empty_database: str) -> None:
    dialect = dialect_of(empty_database)
    schema = (
        f"{parse_location(empty_database).url.database}_synth" if dialect == "mysql" else ("synth")
    )
    if dialect == "sqlite":
        with pytest.raises(WriteError, match="SQLite has no schemas"):
            write_tables(empty_database, shop_metadata(), shop_data(), schema=schema)
        return

    try:
        write_tables(empty_database, shop_metadata(), shop_data(), schema=schema)
        assert row_counts(empty_database, shop_metadata(), schema=schema)["line"] == 5
        assert set(dangling_foreign_keys(empty_database, shop_metadata(), schema).values()) == {0}
    finally:
        if dialect == "mysql":
            execute(empty_database, f"DROP DATABASE IF EXISTS {schema}")


# --------------------------------------------------------------------- if_exists


def test_fail_refuses_existing_tables_and_touches_nothing(empty_database: str) -> None:
    metadata = shop_metadata()
    write_tables(empty_database, metadata, shop_data())
    smaller = {name: frame.iloc[:1] for name, frame in shop_data().items()}

    with pytest.raises(WriteError, match="already has tables .*customer.*; nothing was written"):
        write_tables(empty_database, metadata, smaller)

    assert row_counts(empty_database, metadata)["customer"] == 4


def test_replace_drops_and_recreates(empty_database: str) -> None:
    metadata = shop_metadata()
    write_tables(empty_database, metadata, shop_data())
    fewer = shop_data()
    fewer["event_log"] = fewer["event_log"].iloc[:1]

    summary = write_tables(empty_database, metadata, fewer, if_exists="replace")

    assert summary.rows["event_log"] == 1
    assert row_counts(empty_database, metadata)["event_log"] == 1
    declared = declared_foreign_keys(empty_database, list(metadata.tables))
    assert ("orders", ("customer_email",), "customer", ("email",)) in declared


def test_truncate_keeps_the_users_table(empty_database: str) -> None:
    metadata = shop_metadata()
    write_tables(empty_database, metadata, shop_data())
    execute(empty_database, "ALTER TABLE event_log ADD COLUMN source VARCHAR(10) DEFAULT 'app'")

    write_tables(empty_database, metadata, shop_data(), if_exists="truncate")

    assert row_counts(empty_database, metadata) == {
        name: len(frame) for name, frame in shop_data().items()
    }
    assert read_rows(empty_database, "event_log", ["message", "source"])[0] == ("anonymous", "app")
    assert set(dangling_foreign_keys(empty_database, metadata).values()) == {0}
    expected = relationship_keys(metadata)
    if dialect_of(empty_database) == "duckdb":
        expected.discard(CYCLE_KEY)
    assert declared_foreign_keys(empty_database, list(metadata.tables)) == expected


def test_truncate_refuses_a_table_that_lacks_columns(empty_database: str) -> None:
    metadata = shop_metadata()
    execute(
        empty_database,
        "CREATE TABLE event_log (message VARCHAR(20))",
        "INSERT INTO event_log VALUES ('old')",
    )

    with pytest.raises(WriteError, match="event_log .* lacks columns customer_id"):
        write_tables(empty_database, metadata, shop_data(), if_exists="truncate")

    assert read_rows(empty_database, "event_log", ["message"]) == [("old",)]
    assert (
        "customer"
        not in sa.inspect(create_engine(parse_location(empty_database))).get_table_names()
    )


def test_append_shifts_generated_keys(empty_database: str) -> None:
    metadata = shop_metadata()
    write_tables(empty_database, metadata, shop_data())

    write_tables(empty_database, metadata, more_shop_data(), if_exists="append")

    counts = row_counts(empty_database, metadata)
    assert counts == {name: 2 * len(frame) for name, frame in shop_data().items()}
    assert set(dangling_foreign_keys(empty_database, metadata).values()) == {0}
    assert set(duplicate_keys(empty_database, metadata).values()) == {0}
    referrers = read_rows(empty_database, "customer", ["id", "referrer_id"])
    assert referrers[4:] == [(5, None), (6, 5), (7, 5), (8, 6)]
    lines = read_rows(empty_database, "line_note", ["id", "order_id", "line_no"])
    assert lines[2:] == [(3, 6, 2), (4, 10, 1)]
    execute(empty_database, "INSERT INTO customer (email) VALUES ('later@x.io')")
    assert scalar(empty_database, "SELECT id FROM customer WHERE email = 'later@x.io'") == 9


def test_identity_values_may_be_left_to_the_database(empty_database: str) -> None:
    frame = every_type_frame().drop(columns=["id"])

    write_tables(empty_database, every_type_metadata(), {"kinds": frame})

    assert [row[0] for row in read_rows(empty_database, "kinds", ["id"])] == [1, 2, 3]


def test_metadata_without_sql_types_is_written_from_the_sdtypes_and_dtypes(
    empty_database: str,
) -> None:
    metadata = Metadata.load_from_dict(
        {
            "tables": {
                "users": {
                    "primary_key": "user_id",
                    "columns": {
                        "user_id": {"sdtype": "id"},
                        "age": {"sdtype": "numerical", "computer_representation": "Int64"},
                        "score": {"sdtype": "numerical"},
                        "joined": {"sdtype": "datetime"},
                        "active": {"sdtype": "boolean"},
                        "city": {"sdtype": "categorical"},
                    },
                }
            }
        }
    )
    frame = pd.DataFrame(
        {
            "user_id": ints(1, 2),
            "age": ints(30, None),
            "score": [0.5, None],
            "joined": pd.to_datetime(["2024-01-01 10:00:00", "2024-02-01 11:30:00"]),
            "active": pd.array([True, False], dtype="boolean"),
            "city": ["Oslo", None],
        }
    )

    write_tables(empty_database, metadata, {"users": frame})

    rows = read_rows(empty_database, "users", list(frame.columns))
    types = ["bigint", "bigint", "double", "timestamp", "boolean", "text"]
    assert [canonical(value, kind) for value, kind in zip(rows[0], types, strict=True)] == [
        1,
        30,
        0.5,
        dt.datetime(2024, 1, 1, 10),
        True,
        "Oslo",
    ]
    assert rows[1][1] is None and rows[1][5] is None


def test_a_table_larger_than_one_statement_is_written_whole(empty_database: str) -> None:
    """Enough rows to span several COPY buffers and multi-row INSERT statements."""
    metadata = Metadata()
    metadata.add_table("reading")
    for name, sql_type in {
        "id": "bigint",
        "label": "text",
        "value": "numeric(10,3)",
        "taken": "timestamptz",
    }.items():
        metadata.add_column(
            "reading", name, sdtype="unknown", sql_type=sql_type, nullable=name != "id"
        )
    metadata.set_primary_key("reading", "id")
    count = 50_000
    frame = pd.DataFrame(
        {
            "id": pd.array(range(1, count + 1), dtype="Int64"),
            "label": [f"sensor {index % 97} 'quoted' \\ {index}" for index in range(count)],
            "value": [Decimal(index) / 1000 for index in range(count)],
            "taken": pd.date_range("2024-01-01", periods=count, freq="min", tz="UTC"),
        }
    )

    summary = write_tables(empty_database, metadata, {"reading": frame})

    assert summary.rows == {"reading": count}
    assert scalar(empty_database, "SELECT COUNT(DISTINCT label) FROM reading") == count
    last = read_rows(empty_database, "reading", ["id", "label", "value", "taken"])[-1]
    assert canonical(last[2], "numeric") == Decimal("49.999")
    assert canonical(last[3], "timestamptz") == dt.datetime(2024, 2, 4, 17, 19)
