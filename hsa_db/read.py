"""Rows out of a database or a folder of files, as DataFrames with hsa-db's dtypes.

Every neutral SQL type has one pandas dtype (see :func:`contract_dtype`): integers are
nullable ``Int16``/``Int32``/``Int64``, ``numeric`` is ``object`` holding ``Decimal``,
timestamps are ``datetime64[ns]`` (``datetime64[ns, UTC]`` with a time zone), and strings,
dates, times, bytes and lists are ``object`` columns of the matching Python values.

PostgreSQL tables are read with ``COPY (SELECT ...) TO STDOUT`` in CSV format and parsed by
pandas' C reader: each column is cast in the query to a text form with one reading (booleans
as ``true``/``false``, intervals as microseconds, arrays as JSON, timestamps in UTC). Other
databases, and folders of files through DuckDB, are read with a streamed ``SELECT``. Sources
are opened read-only.
"""

from __future__ import annotations

import datetime as dt
import io
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
from hsa_db.progress import Progress
from hsa_db.reflect import Source, first_line, qualified_name, source_engine, source_name

log = logging.getLogger(__name__)

Frames = Generator[pd.DataFrame, None, None]

_INTEGER_DTYPES = {"smallint": "Int16", "integer": "Int32", "bigint": "Int64"}
_INTEGER_CASTS = {"smallint": "int2", "integer": "int4", "bigint": "int8"}
#: What COPY writes for NULL. pandas cannot see CSV quotes, so a text value equal to this
#: marker would read as NULL: it is chosen so that no real value is expected to equal it.
_COPY_NULL = "@hsa-db-null@"
_COPY_SETTINGS = (
    "SET LOCAL client_encoding = 'UTF8'",
    "SET LOCAL TimeZone = 'UTC'",
    "SET LOCAL DateStyle = 'ISO, YMD'",
    "SET LOCAL bytea_output = 'hex'",
    "SET LOCAL extra_float_digits = 3",
)
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
                read = _copy_frames if connection.dialect.name == "postgresql" else _select_frames
                frames = read(connection, table_metadata, metadata.schema, batch_rows)
                # Closed before the connection, so that a COPY left early ends first.
                stack.callback(frames.close)
                empty = True
                for frame in frames:
                    empty = False
                    yield frame
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


# --------------------------------------------------------------------------- PostgreSQL


def _copy_frames(
    connection: sa.Connection, table: Table, schema: str | None, batch_rows: int
) -> Frames:
    """A PostgreSQL table through ``COPY ... TO STDOUT (FORMAT CSV)`` and pandas' C reader."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    columns = list(table.columns.values())
    selected = ", ".join(postgres_expression(quote(column.name), column) for column in columns)
    source = qualified_name(connection, schema, table.name)
    sql = f"COPY (SELECT {selected} FROM {source}) TO STDOUT (FORMAT CSV, NULL '{_COPY_NULL}')"
    for setting in _COPY_SETTINGS:
        connection.exec_driver_sql(setting)

    driver: Any = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        stream = io.BufferedReader(_CopyStream(copy), buffer_size=1 << 20)
        dtypes = {position: _csv_dtype(column) for position, column in enumerate(columns)}
        nulls = {
            position: [_COPY_NULL, "NaN"] if dtypes[position] == "float64" else [_COPY_NULL]
            for position in dtypes
        }
        try:
            reader = pd.read_csv(
                stream,
                header=None,
                names=list(dtypes),
                dtype=dtypes,
                na_values=nulls,
                keep_default_na=False,
                chunksize=batch_rows,
                encoding="utf-8",
            )
        except pd.errors.EmptyDataError:
            return
        with reader:
            for chunk in reader:
                yield _finish_copy_frame(chunk, table)


def postgres_expression(quoted: str, column: Column) -> str:
    """The SELECT expression giving a column's value in a text form with one reading."""
    sql_type = column.sql_type or "text"
    kind = _kind(sql_type)
    if kind == "array":
        return f"to_json({quoted})::text"
    if kind == "integer":
        return f"{quoted}::{_INTEGER_CASTS[sql_type]}"
    return {
        "decimal": f"{quoted}::numeric",
        "float": f"{quoted}::float8",
        "boolean": f"{quoted}::bool::text",
        "date": f"{quoted}::date",
        "time": f"{quoted}::time",
        "timestamp": f"{quoted}::timestamp",
        "timestamptz": f"{quoted}::timestamptz",
        "interval": f"(extract(epoch FROM {quoted}) * 1000000)::int8",
        "binary": f"{quoted}::bytea",
    }.get(kind, f"{quoted}::text")


def _csv_dtype(column: Column) -> str:
    kind = _kind(column.sql_type)
    if kind == "interval":
        return "Int64"
    if kind in ("integer", "float", "boolean"):
        return contract_dtype(column.sql_type)
    return "object"


def _finish_copy_frame(chunk: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Columns pandas read as text turned into the contract's values."""
    data: dict[str, Any] = {}
    for position, column in enumerate(table.columns.values()):
        series = chunk[position]
        kind = _kind(column.sql_type)
        if kind == "interval":
            microseconds = series.astype("float64")
            data[column.name] = pd.to_timedelta(microseconds, unit="us").astype("timedelta64[ns]")
        elif series.dtype != object:
            data[column.name] = series.array
        elif kind in ("string", "json", "raw"):
            data[column.name] = _nulls_as_none(series)
        elif kind == "decimal":
            data[column.name] = _nulls_as_none(series.map(Decimal, na_action="ignore"))
        elif kind == "date":
            data[column.name] = _copied_dates(series, column, table.name)
        else:
            values = [value if isinstance(value, str) else None for value in series]
            data[column.name] = convert_column(values, column, table.name)
    return pd.DataFrame(data, index=pd.RangeIndex(len(chunk)))


def _nulls_as_none(series: pd.Series) -> pd.Series:
    values = series.astype(object)
    return values.where(values.notna(), None).reset_index(drop=True)


def _copied_dates(series: pd.Series, column: Column, table: str) -> pd.Series:
    """ISO dates as ``datetime.date``; vectorised unless some fall outside pandas' range."""
    try:
        parsed = pd.to_datetime(series, format="%Y-%m-%d")
    except (ValueError, pd.errors.OutOfBoundsDatetime):
        values = [value if isinstance(value, str) else None for value in series]
        return convert_column(values, column, table)
    return _nulls_as_none(pd.Series(parsed.dt.date, dtype=object).where(parsed.notna()))


class _CopyStream(io.RawIOBase):
    """The blocks of a running COPY as a readable byte stream."""

    def __init__(self, copy: Any) -> None:
        self._blocks = iter(copy)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if not self._pending:
                try:
                    self._pending = bytes(next(self._blocks))
                except StopIteration:
                    break
            size = min(len(view) - filled, len(self._pending))
            view[filled : filled + size] = self._pending[:size]
            self._pending = self._pending[size:]
            filled += size
        return filled


# --------------------------------------------------------------------------- other databases


def _select_frames(
    connection: sa.Connection, table: Table, schema: str | None, batch_rows: int
) -> Frames:
    """A table through a streamed ``SELECT`` of the metadata's columns."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    selected = ", ".join(quote(name) for name in table.columns) or "*"
    sql = f"SELECT {selected} FROM {qualified_name(connection, schema, table.name)}"
    streamed = connection.execution_options(stream_results=True, max_row_buffer=batch_rows)
    result = streamed.exec_driver_sql(sql)
    try:
        for rows in result.partitions(batch_rows):
            yield to_frame(rows, table)
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
    """``values`` (as a driver returns them, or as text) in ``column``'s contract dtype."""
    kind = _kind(column.sql_type)
    try:
        if kind == "array":
            element = _kind(str(column.sql_type)[:-2])
            return _objects(
                [None if value is None else _to_list(value, element) for value in values]
            )
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


def _floats(values: list[Any], sql_type: str | None) -> np.ndarray:
    return np.array([np.nan if value is None else float(value) for value in values], "float64")


def _booleans(values: list[Any], sql_type: str | None) -> Any:
    return pd.array([None if value is None else _to_bool(value) for value in values], "boolean")


def _strings(values: list[Any], sql_type: str | None) -> pd.Series:
    return _objects([None if value is None else _to_text(value) for value in values])


def _dates(values: list[Any], sql_type: str | None) -> pd.Series:
    return _objects([None if value is None else _to_date(value) for value in values])


def _times(values: list[Any], sql_type: str | None) -> pd.Series:
    return _objects([None if value is None else _to_time(value) for value in values])


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
    "raw": _raw,
}


# --------------------------------------------------------------------------- single values


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("t", "true", "1", "y", "yes"):
            return True
        if lowered in ("f", "false", "0", "n", "no"):
            return False
        raise ValueError(f"{value!r} is not a boolean")
    return bool(value)


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip()[:10])


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


def _to_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value).strip())


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        # PostgreSQL's text form of bytea is \x followed by hex digits.
        return bytes.fromhex(value[2:]) if value.startswith("\\x") else value.encode("utf-8")
    return bytes(value)


def _to_list(value: Any, element: str) -> list[Any]:
    """An array value as a Python list whose items are ``element``'s Python values."""
    if isinstance(value, str):
        value = json.loads(value, parse_float=Decimal if element == "decimal" else float)
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise ValueError(f"{value!r} is not an array")
    return [_to_item(item, element) for item in value]


def _to_item(item: Any, element: str) -> Any:
    if item is None:
        return None
    if isinstance(item, (list, tuple)):
        return _to_list(item, element)
    converters: dict[str, Callable[[Any], Any]] = {
        "integer": int,
        "decimal": _to_decimal,
        "float": float,
        "boolean": _to_bool,
        "date": _to_date,
        "time": _to_time,
        "timestamp": _to_datetime,
        "timestamptz": _to_datetime,
        "binary": _to_bytes,
        "json": _to_json_item,
    }
    convert = converters.get(element, _to_text)
    return convert(item)


def _to_json_item(item: Any) -> str:
    return item if isinstance(item, str) else json.dumps(item)
