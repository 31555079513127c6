"""Column codecs: a column's values to a plain pandas form (floats, datetimes, Python objects)
and back to the exact dtype the column came in with, inside the column's SQL type limits."""

from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hsa_db.metadata import Column

#: Value ranges of the integer SQL types.
INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}

_NUMERIC = re.compile(r"numeric\((\d+)\s*,\s*(\d+)\)")
_LENGTH = re.compile(r"(?:var)?char\((\d+)\)")
_SECONDS_PER_DAY = 86_400.0

#: Kinds whose plain form is a float.
FLOAT_KINDS = frozenset({"int", "float", "decimal", "time", "interval"})
#: Kinds whose plain form is a ``datetime64[ns]``.
DATETIME_KINDS = frozenset({"date", "timestamp", "timestamptz", "pydatetime"})


def max_length(sql_type: str | None) -> int | None:
    """The length limit of a ``char(n)``/``varchar(n)`` type, or None."""
    match = _LENGTH.fullmatch(sql_type or "")
    return int(match.group(1)) if match else None


def numeric_precision(sql_type: str | None) -> tuple[int, int] | None:
    """``(precision, scale)`` of a ``numeric(p,s)`` type, or None."""
    match = _NUMERIC.fullmatch(sql_type or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def is_null(values: pd.Series) -> np.ndarray:
    """Null mask that treats None, NaN, NaT and pd.NA alike."""
    return np.asarray(pd.isna(values), dtype=bool)


def _value_kind(series: pd.Series, sql_type: str | None) -> str:
    """What the column's values are, read from the dtype and the first value present."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamptz"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "interval"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"

    present = series.dropna()
    if present.empty:
        return _kind_from_sql_type(sql_type)
    return _kind_of_value(present.iloc[0])


def _kind_of_value(value: Any) -> str:
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "bool"),
        (decimal.Decimal, "decimal"),
        ((int, np.integer), "int"),
        ((float, np.floating), "float"),
        (dt.datetime, "pydatetime"),
        (dt.date, "date"),
        (dt.time, "time"),
        (dt.timedelta, "interval"),
        ((bytes, bytearray, memoryview), "bytes"),
        ((list, tuple), "list"),
        (dict, "dict"),
        (str, "str"),
    ]
    for types, kind in kinds:
        if isinstance(value, types):
            return kind
    return "object"


def _kind_from_sql_type(sql_type: str | None) -> str:
    sql_type = sql_type or ""
    if sql_type.endswith("[]"):
        return "list"
    simple = {
        "boolean": "bool",
        "smallint": "int",
        "integer": "int",
        "bigint": "int",
        "real": "float",
        "double": "float",
        "date": "date",
        "time": "time",
        "interval": "interval",
        "binary": "bytes",
    }
    if sql_type in simple:
        return simple[sql_type]
    if sql_type.startswith("numeric"):
        return "decimal"
    return "str"


@dataclass
class ColumnCodec:
    """Turns one column into its plain form and back, keeping its dtype and SQL limits."""

    name: str
    dtype: Any
    kind: str
    sql_type: str | None
    nullable: bool
    length: int | None
    decimals: int | None
    bounds: tuple[float, float] | None
    enum_values: list[str] | None

    @classmethod
    def fit(cls, series: pd.Series, column: Column) -> ColumnCodec:
        """Learn how ``series`` is stored."""
        kind = _value_kind(series, column.sql_type)
        precision = numeric_precision(column.sql_type)
        decimals = precision[1] if precision else None
        bounds: tuple[float, float] | None = None
        if precision:
            limit = 10.0 ** (precision[0] - precision[1]) - 10.0 ** (-precision[1])
            bounds = (-limit, limit)
        elif column.sql_type in INTEGER_RANGES:
            low, high = INTEGER_RANGES[column.sql_type]
            bounds = (float(low), float(high))
        if kind == "decimal" and decimals is None:
            decimals = _decimal_places(series)

        return cls(
            name=column.name,
            dtype=series.dtype,
            kind=kind,
            sql_type=column.sql_type,
            nullable=column.nullable,
            length=max_length(column.sql_type),
            decimals=decimals,
            bounds=bounds,
            enum_values=column.enum_values,
        )

    # ------------------------------------------------------------------ to plain form

    def to_numbers(self, series: pd.Series) -> pd.Series:
        """Float or ``datetime64[ns]`` form, for numerical and datetime modelling."""
        if self.kind in DATETIME_KINDS or (self.kind == "str" and _looks_datetime(series)):
            return self._to_datetime(series)
        if self.kind == "time":
            values = [_time_seconds(value) for value in series]
            return pd.Series(values, index=series.index, dtype="float64")
        if self.kind == "interval":
            seconds = pd.to_timedelta(series).dt.total_seconds()
            return pd.Series(seconds, index=series.index, dtype="float64")
        if self.kind == "bool":
            return series.astype("float64")
        return pd.to_numeric(pd.Series(series, dtype=object), errors="coerce").astype("float64")

    def _to_datetime(self, series: pd.Series) -> pd.Series:
        if self.kind == "timestamptz":
            return series.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
        if self.kind == "timestamp":
            return series.astype("datetime64[ns]")
        converted = pd.to_datetime(pd.Series(series, dtype=object), errors="coerce", utc=True)
        return converted.dt.tz_localize(None).astype("datetime64[ns]")

    def to_objects(self, series: pd.Series) -> pd.Series:
        """Python values with None for null, for categories and generated columns."""
        values = series.astype(object)
        return values.where(~is_null(series), None)

    # ------------------------------------------------------------------ back

    def from_numbers(self, series: pd.Series) -> pd.Series:
        """Back from the float or datetime form to the column's own dtype."""
        if self.kind in DATETIME_KINDS or pd.api.types.is_datetime64_any_dtype(series.dtype):
            return self._from_datetime(pd.to_datetime(series))
        values = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy(copy=True)
        if self.bounds is not None:
            values = np.clip(values, *self.bounds)
        if self.kind == "int":
            return self.cast(pd.Series(np.round(values), index=series.index))
        if self.kind == "decimal":
            return self.cast(pd.Series(self._decimals(values), index=series.index, dtype=object))
        if self.kind == "time":
            seconds = np.clip(values, 0.0, _SECONDS_PER_DAY - 1e-6)
            times = [None if np.isnan(s) else _seconds_time(s) for s in seconds]
            return pd.Series(times, index=series.index, dtype=object)
        if self.kind == "interval":
            return self.cast(pd.Series(pd.to_timedelta(values, unit="s"), index=series.index))
        if self.kind == "bool":
            booleans = pd.array(np.where(np.isnan(values), None, values > 0.5), dtype="boolean")
            return self.cast(pd.Series(booleans, index=series.index))
        return self.cast(pd.Series(values, index=series.index))

    def _from_datetime(self, series: pd.Series) -> pd.Series:
        if self.kind == "timestamptz":
            assert isinstance(self.dtype, pd.DatetimeTZDtype)
            aware = series.astype("datetime64[ns]").dt.tz_localize("UTC")
            return aware.dt.tz_convert(self.dtype.tz).astype(self.dtype)
        if self.kind == "timestamp":
            return series.astype(self.dtype)
        if self.kind == "date":
            dates = series.dt.date
            return dates.astype(object).where(series.notna(), None)
        if self.kind == "pydatetime":
            stamps = series.dt.to_pydatetime()
            return pd.Series(stamps, index=series.index, dtype=object).where(series.notna(), None)
        text = series.dt.strftime("%Y-%m-%d %H:%M:%S")
        if (series.dropna().dt.normalize() == series.dropna()).all():
            text = series.dt.strftime("%Y-%m-%d")
        return text.astype(object).where(series.notna(), None)

    def _decimals(self, values: np.ndarray) -> list[decimal.Decimal | None]:
        places = self.decimals if self.decimals is not None else 6
        quantum = decimal.Decimal(1).scaleb(-places)
        out: list[decimal.Decimal | None] = []
        for value in values:
            if np.isnan(value):
                out.append(None)
            else:
                out.append(decimal.Decimal(repr(float(value))).quantize(quantum))
        return out

    def from_objects(self, series: pd.Series) -> pd.Series:
        """Back from Python values (categories, generated values) to the column's dtype."""
        if self.kind == "str" and self.length is not None:
            series = series.map(
                lambda value: value[: self.length] if isinstance(value, str) else value
            )
        return self.cast(series)

    def cast(self, series: pd.Series) -> pd.Series:
        """``series`` in the column's input dtype (nulls as that dtype's null)."""
        dtype = self.dtype
        if isinstance(dtype, np.dtype) and dtype == np.dtype(object):
            values = series.astype(object)
            return values.where(~is_null(series), None)
        if isinstance(dtype, np.dtype) and dtype.kind in "iub" and is_null(series).any():
            series = series.astype(object).where(~is_null(series), 0)
        if pd.api.types.is_integer_dtype(dtype) and series.dtype == object:
            series = pd.to_numeric(series, errors="coerce")
        if pd.api.types.is_integer_dtype(dtype) and pd.api.types.is_float_dtype(series.dtype):
            series = series.round()
        return series.astype(dtype)

    def empty(self) -> pd.Series:
        """An empty column of the right dtype."""
        return pd.Series([], dtype=self.dtype, name=self.name)

    def nulls(self, count: int) -> pd.Series:
        """``count`` nulls in the column's dtype."""
        return self.cast(pd.Series([None] * count, dtype=object))


def _decimal_places(series: pd.Series) -> int:
    places = 0
    for value in series.dropna().head(1000):
        if isinstance(value, decimal.Decimal):
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int):
                places = max(places, -exponent)
    return places


def _looks_datetime(series: pd.Series) -> bool:
    present = series.dropna().head(20)
    if present.empty:
        return False
    parsed = pd.to_datetime(present.astype(str), errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def _time_seconds(value: Any) -> float:
    if not isinstance(value, dt.time):
        return float("nan")
    return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6


def _seconds_time(seconds: float) -> dt.time:
    whole = int(seconds)
    micro = int(round((seconds - whole) * 1e6))
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    whole = min(whole, 86_399)
    return dt.time(whole // 3600, whole % 3600 // 60, whole % 60, micro)
