"""Rows out of a database or a folder of files, as DataFrames with hsa-db's dtypes.

Every neutral SQL type has one pandas dtype (see :func:`contract_dtype`): integers are
nullable ``Int16``/``Int32``/``Int64``, ``numeric`` is ``object`` holding ``Decimal``,
timestamps are ``datetime64[ns]`` (``datetime64[ns, UTC]`` with a time zone), and strings,
dates, times, bytes and lists are ``object`` columns of the matching Python values.

PostgreSQL tables are read with ``COPY (SELECT ...) TO STDOUT`` in binary format, each column
cast to a type psycopg turns into the right Python value. Other databases, and folders of
files through DuckDB, are read with a streamed ``SELECT``. Sources are opened read-only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import ExitStack
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from hsa_db.errors import DatabaseError
from hsa_db.metadata import Column, Metadata, Table
from hsa_db.reflect import Source, first_line, qualified_name, source_engine, source_name

log = logging.getLogger(__name__)

Progress = Callable[[str, str, "int | None"], None]

_INTEGER_DTYPES = {"smallint": "Int16", "integer": "Int32", "bigint": "Int64"}
_POSTGRES_CASTS = {
    "smallint": "int2",
    "integer": "int4",
    "bigint": "int8",
    "real": "float4",
    "double": "float8",
    "boolean": "bool",
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "interval": "interval",
    "binary": "bytea",
}
_MISSING_TABLE_MARKERS = ("does not exist", "no such table", "doesn't exist", "not found")


def read_tables(
    url: Source,
    metadata: Metadata,
    tables: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, pd.DataFrame]:
    """Read whole tables, one DataFrame per table with the contract's dtypes.

    Args:
        url: a database URL or path, a folder of CSV/Parquet files, a location or an engine.
        metadata: the tables and columns to read (columns are read in its order).
        tables: only these tables (default: every table of the metadata).
        progress: called as ``progress("read", table, rows)`` when a table is read.
    """
    names = list(tables) if tables is not None else list(metadata.tables)
    for name in names:
        metadata.get_table(name)

    data: dict[str, pd.DataFrame] = {}
    with source_engine(url) as engine:
        for name in names:
            frames = list(iter_table(engine, metadata, name))
            data[name] = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
            log.debug("read %d rows of %s", len(data[name]), name)
            if progress is not None:
                progress("read", name, len(data[name]))
    return data


def iter_table(
    location_or_engine: Source, metadata: Metadata, table: str, batch_rows: int = 50_000
) -> Iterator[pd.DataFrame]:
    """Stream a table in DataFrames of at most ``batch_rows`` rows (one empty frame if the
    table is empty)."""
    table_metadata = metadata.get_table(table)
    where = source_name(location_or_engine)
    with source_engine(location_or_engine) as engine:
        try:
            with engine.connect() as connection, ExitStack() as stack:
                read = _copy_batches if connection.dialect.name == "postgresql" else _select_batches
                batches = read(connection, table_metadata, metadata.schema, batch_rows)
                # Closed before the connection, so that a COPY left early ends first.
                stack.callback(batches.close)
                empty = True
                for rows in batches:
                    empty = False
                    yield to_frame(rows, table_metadata)
                if empty:
                    yield to_frame([], table_metadata)
        except DBAPIError as error:
            raise DatabaseError(_read_error(error, table, where)) from None


def _read_error(error: DBAPIError, table: str, where: str) -> str:
    line = first_line(error)
    if any(marker in line.lower() for marker in _MISSING_TABLE_MARKERS):
        return (
            f"cannot read table {table!r} from {where} ({line}); the metadata does not match "
            "this database: reflect it again"
        )
    return f"cannot read table {table!r} from {where}: {line}"


# --------------------------------------------------------------------------- queries


def _copy_batches(
    connection: sa.Connection, table: Table, schema: str | None, batch_rows: int
) -> Generator[Sequence[Sequence[Any]], None, None]:
    """Rows of a PostgreSQL table through binary COPY, each column cast to a known type."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    casts = [postgres_cast(column.sql_type) for column in table.columns.values()]
    selected = ", ".join(
        f"{quote(column.name)}::{cast}"
        for column, cast in zip(table.columns.values(), casts, strict=True)
    )
    source = qualified_name(connection, schema, table.name)
    sql = f"COPY (SELECT {selected} FROM {source}) TO STDOUT (FORMAT BINARY)"

    driver: Any = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        copy.set_types(casts)
        batch: list[tuple[Any, ...]] = []
        for row in copy.rows():
            batch.append(row)
            if len(batch) >= batch_rows:
                yield batch
                batch = []
        if batch:
            yield batch


def postgres_cast(sql_type: str | None) -> str:
    """The PostgreSQL type a column is cast to for COPY (text for anything read as text)."""
    if sql_type is None:
        return "text"
    if sql_type.endswith("[]"):
        return postgres_cast(sql_type[:-2]) + "[]"
    if sql_type.startswith("numeric"):
        return "numeric"
    return _POSTGRES_CASTS.get(sql_type, "text")


def _select_batches(
    connection: sa.Connection, table: Table, schema: str | None, batch_rows: int
) -> Generator[Sequence[Sequence[Any]], None, None]:
    """Rows of a table through a streamed ``SELECT`` of the metadata's columns."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    selected = ", ".join(quote(name) for name in table.columns) or "*"
    sql = f"SELECT {selected} FROM {qualified_name(connection, schema, table.name)}"
    streamed = connection.execution_options(stream_results=True, max_row_buffer=batch_rows)
    result = streamed.exec_driver_sql(sql)
    try:
        yield from result.partitions(batch_rows)
    finally:
        result.close()


# --------------------------------------------------------------------------- dtypes


def contract_dtype(sql_type: str | None) -> str:
    """The pandas dtype of a neutral SQL type in the DataFrames hsa-db passes around."""
    kind = _kind(sql_type)
    if kind == "integer":
        return _INTEGER_DTYPES[str(sql_type)]
    return {
        "float": "float64",
        "boolean": "boolean",
        "timestamp": "datetime64[ns]",
        "timestamptz": "datetime64[ns, UTC]",
        "interval": "timedelta64[ns]",
    }.get(kind, "object")


def _kind(sql_type: str | None) -> str:
    if sql_type is None:
        return "raw"
    if sql_type.endswith("[]"):
        return "array"
    if sql_type in _INTEGER_DTYPES:
        return "integer"
    if sql_type.startswith("numeric"):
        return "decimal"
    if sql_type in ("real", "double"):
        return "float"
    if sql_type in ("boolean", "date", "time", "timestamp", "timestamptz", "interval", "json"):
        return sql_type
    return "binary" if sql_type == "binary" else "string"


def to_frame(rows: Sequence[Sequence[Any]], table: Table) -> pd.DataFrame:
    """A DataFrame of ``rows`` (in the metadata's column order) with the contract's dtypes."""
    columns = list(table.columns.values())
    by_column = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    data = {
        column.name: convert_column(list(values), column, table.name)
        for column, values in zip(columns, by_column, strict=True)
    }
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def convert_column(values: list[Any], column: Column, table: str = "") -> Any:
    """``values`` as an array of ``column``'s contract dtype."""
    kind = _kind(column.sql_type)
    try:
        return _CONVERTERS[kind](values, column.sql_type)
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime) as error:
        raise DatabaseError(
            f"column {table}.{column.name} holds a value that is not {column.sql_type} "
            f"({error}); fix the data or the column's sql_type in the metadata"
        ) from None


def _integers(values: list[Any], sql_type: str | None) -> Any:
    return pd.array(
        [None if value is None else int(value) for value in values],
        dtype=_INTEGER_DTYPES[str(sql_type)],
    )


def _decimals(values: list[Any], sql_type: str | None) -> pd.Series:
    return _objects([None if value is None else _to_decimal(value) for value in values])


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _floats(values: list[Any], sql_type: str | None) -> np.ndarray:
    return np.array([np.nan if value is None else float(value) for value in values], "float64")


def _booleans(values: list[Any], sql_type: str | None) -> Any:
    return pd.array([None if value is None else _to_bool(value) for value in values], "boolean")


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("t", "true", "1", "y", "yes"):
            return True
        if lowered in ("f", "false", "0", "n", "no"):
            return False
        raise ValueError(f"{value!r} is not a boolean")
    return bool(value)


def _strings(values: list[Any], sql_type: str | None) -> pd.Series:
    return _objects([None if value is None else _to_text(value) for value in values])


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def _dates(values: list[Any], sql_type: str | None) -> pd.Series:
    return _objects([None if value is None else _to_date(value) for value in values])


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip()[:10])


def _times(values: list[Any], sql_type: str | None) -> pd.Series:
    return _objects([None if value is None else _to_time(value) for value in values])


def _to_time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.timedelta):
        if not dt.timedelta(0) <= value < dt.timedelta(days=1):
            raise ValueError(f"{value} is not a time of day")
        return (dt.datetime.min + value).time()
    if isinstance(value, dt.datetime):
        return value.time()
    return dt.time.fromisoformat(str(value).strip())


def _timestamps(values: list[Any], sql_type: str | None) -> pd.Series:
    series = pd.Series(values, dtype=object)
    parsed = pd.to_datetime(series, utc=True, format="ISO8601")
    if sql_type == "timestamptz":
        return parsed.astype("datetime64[ns, UTC]")
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def _intervals(values: list[Any], sql_type: str | None) -> pd.Series:
    return pd.to_timedelta(pd.Series(values, dtype=object)).astype("timedelta64[ns]")


def _binaries(values: list[Any], sql_type: str | None) -> pd.Series:
    return _objects([None if value is None else _to_bytes(value) for value in values])


def _to_bytes(value: Any) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _arrays(values: list[Any], sql_type: str | None) -> pd.Series:
    return _objects([None if value is None else _to_list(value) for value in values])


def _to_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise ValueError(f"{value!r} is not an array")
    return [_to_list(item) if isinstance(item, (list, tuple)) else item for item in value]


def _raw(values: list[Any], sql_type: str | None) -> pd.Series:
    return _objects([str(value) if isinstance(value, uuid.UUID) else value for value in values])


def _objects(values: list[Any]) -> pd.Series:
    series = pd.Series(np.empty(len(values), dtype=object))
    series[:] = values
    return series


_CONVERTERS: dict[str, Callable[[list[Any], str | None], Any]] = {
    "integer": _integers,
    "decimal": _decimals,
    "float": _floats,
    "boolean": _booleans,
    "string": _strings,
    "json": _strings,
    "date": _dates,
    "time": _times,
    "timestamp": _timestamps,
    "timestamptz": _timestamps,
    "interval": _intervals,
    "binary": _binaries,
    "array": _arrays,
    "raw": _raw,
}
