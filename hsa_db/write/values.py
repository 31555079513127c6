"""DataFrame columns turned into the Python values each database driver binds.

The input follows the DataFrame contract (nullable integers, ``Decimal`` objects, UTC
timestamps, ``timedelta64`` intervals, lists for arrays); every function here returns a plain
list with ``None`` for NULL, column by column, which is how the loaders build their rows fast.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from hsa_db.write.ddl import INTEGER_TYPES, SqlType

Encoder = Callable[[Any], Any]

UTC = dt.timezone.utc
MICROSECONDS = dt.timedelta(microseconds=1)


def python_values(series: pd.Series, sql_type: SqlType) -> list[Any]:
    """The column as Python scalars (``None`` for NULL), shaped by its neutral type."""
    dtype = series.dtype
    if sql_type.array or sql_type.base in ("json", "binary", "numeric", "uuid"):
        return _objects(series)
    if sql_type.base == "timestamptz":
        return _timestamps(series, aware=True)
    if sql_type.base == "timestamp":
        return _timestamps(series, aware=False)
    if sql_type.base == "interval" and not pd.api.types.is_object_dtype(dtype):
        return pd.to_timedelta(series).to_numpy("timedelta64[us]").tolist()
    if sql_type.base in INTEGER_TYPES and pd.api.types.is_numeric_dtype(dtype):
        return _integers(series)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return (
            series.to_numpy(dtype=object, na_value=None).tolist()
            if _has_na(series)
            else (series.to_numpy().tolist())
        )
    return _objects(series)


def _has_na(series: pd.Series) -> bool:
    return bool(series.isna().any())


def _integers(series: pd.Series) -> list[Any]:
    missing = series.isna().to_numpy()
    values = series.fillna(0).to_numpy().astype("int64").tolist()
    if missing.any():
        return [None if gap else value for value, gap in zip(values, missing, strict=True)]
    return values


def _timestamps(series: pd.Series, aware: bool) -> list[Any]:
    if pd.api.types.is_object_dtype(series.dtype):
        series = pd.to_datetime(series, utc=aware)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    values = series.to_numpy("datetime64[us]").tolist()
    if aware:
        return [None if value is None else value.replace(tzinfo=UTC) for value in values]
    return values


def _objects(series: pd.Series) -> list[Any]:
    missing = series.isna().to_numpy()
    values = series.tolist()
    if missing.any():
        values = [None if gap else value for value, gap in zip(values, missing, strict=True)]
    return [value.item() if isinstance(value, np.generic) else value for value in values]


# --------------------------------------------------------------------- per-dialect encoders


def json_text(value: Any) -> str:
    """A JSON document as text: strings are taken as JSON already, other values are dumped."""
    if isinstance(value, str):
        return value
    return json.dumps(_plain(value), default=_json_default)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_plain(item) for item in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def array_list(value: Any) -> Any:
    """An array value as a Python list (NumPy arrays and tuples included)."""
    if isinstance(value, (np.ndarray, tuple)):
        return _plain(value)
    if isinstance(value, str):
        return json.loads(value)
    return value


def microseconds(value: Any) -> int:
    """An interval as a whole number of microseconds."""
    return int(pd.Timedelta(value) // MICROSECONDS)


def sqlite_encoder(sql_type: SqlType) -> Encoder | None:
    """How a non-NULL value is bound in SQLite (text dates, JSON arrays, integer intervals)."""
    base = sql_type.base
    if sql_type.array or base == "json":
        return json_text
    if base == "boolean":
        return int
    if base == "numeric":
        return str
    if base in ("date", "time"):
        return _isoformat
    if base == "timestamp":
        return lambda value: value.isoformat(sep=" ")
    if base == "timestamptz":
        return lambda value: value.astimezone(UTC).isoformat(sep=" ")
    if base == "interval":
        return microseconds
    if base == "uuid":
        return str
    return None


#: Characters MySQL escapes with a backslash inside a quoted string (the session runs without
#: NO_BACKSLASH_ESCAPES).
_MYSQL_ESCAPES = str.maketrans(
    {"\0": "\\0", "\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\x1a": "\\Z"}
)


def mysql_string(value: Any) -> str:
    """A quoted MySQL string literal."""
    return "'" + str(value).translate(_MYSQL_ESCAPES) + "'"


def mysql_shape(sql_type: SqlType) -> SqlType:
    """The shape values take for MySQL: timestamps with time zone as UTC timestamps."""
    return SqlType("timestamp") if sql_type.base == "timestamptz" else sql_type


def mysql_literal(sql_type: SqlType) -> Encoder:
    """How a non-NULL value is written as a SQL literal in a MySQL/MariaDB multi-row INSERT."""
    base = sql_type.base
    if sql_type.array or base == "json":
        return lambda value: mysql_string(json_text(value))
    if base in ("smallint", "integer", "bigint", "numeric"):
        return str
    if base in ("real", "double"):
        return repr
    if base == "boolean":
        return lambda value: "1" if value else "0"
    if base in ("timestamp", "timestamptz"):
        return lambda value: "'" + value.isoformat(sep=" ") + "'"
    if base in ("date", "time"):
        return lambda value: "'" + value.isoformat() + "'"
    if base == "interval":
        return lambda value: str(microseconds(value))
    if base == "binary":
        return lambda value: "X'" + bytes(value).hex() + "'"
    return mysql_string


def postgres_encoder(sql_type: SqlType) -> Encoder | None:
    """How a non-NULL value is written by COPY (JSON as text, arrays as lists)."""
    if sql_type.array:
        return array_list
    if sql_type.base == "json":
        return json_text
    if sql_type.base == "uuid":
        return str
    return None


def _isoformat(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def encode(values: list[Any], encoder: Encoder | None) -> list[Any]:
    """Apply ``encoder`` to the non-NULL values of a column."""
    if encoder is None:
        return values
    return [None if value is None else encoder(value) for value in values]
