"""Per-table reversible transforms: a table's columns to numbers for the row models and back.

Statistical columns go through RDT transformers (numbers, datetimes, categories, booleans).
Columns that must not be learned are generated when sampling: PII through Faker, free text as
made-up sentences of the real lengths, identifiers as new unique values, JSON/array/binary as
type-valid placeholders. Their NULL share and lengths are modelled as extra numeric columns
(``<column>.is_null``, ``<column>.length``) so that they follow the segments too. Key columns
are left to :mod:`hsa_db.keys`.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rdt import HyperTransformer
from rdt.transformers import (
    BaseTransformer,
    FloatFormatter,
    LabelEncoder,
    UniformEncoder,
    UnixTimestampEncoder,
)

from hsa_db.codecs import DATETIME_KINDS, FLOAT_KINDS, ColumnCodec, is_null
from hsa_db.errors import SynthesizerError
from hsa_db.generate import ValueFactory, random_bytes, random_strings
from hsa_db.keys import KeyGenerator, KeyState
from hsa_db.metadata import PII_SDTYPES, STATISTICAL_SDTYPES, Column, Metadata

log = logging.getLogger(__name__)

NULL_SUFFIX = ".is_null"
LENGTH_SUFFIX = ".length"

#: What happens to a column: learned, generated in one of several ways, or left to the keys.
ROLES = ("model", "key", "pii", "text", "id", "unknown", "null")

#: Output columns whose values are categories (for models that treat them apart).
DISCRETE_TRANSFORMERS = ("LabelEncoder", "OrderedLabelEncoder", "BinaryEncoder", "OneHotEncoder")


@dataclass
class GenerationState:
    """What one sampling run remembers about a table's generated columns across batches."""

    factory: ValueFactory
    keys: dict[str, KeyState] = field(default_factory=dict)
    unique_values: dict[str, set[str]] = field(default_factory=dict)

    def key_state(self, column: str) -> KeyState:
        return self.keys.setdefault(column, KeyState())


class TableTransformer:
    """Turns one table's non-key columns into numeric columns and back.

    ``categorical_encoding`` is ``"uniform"`` (categories spread over [0, 1], for copulas) or
    ``"label"`` (integer codes, for the neural models).
    """

    def __init__(
        self,
        metadata: Metadata,
        table_name: str,
        categorical_encoding: str = "uniform",
        enforce_min_max_values: bool = True,
        enforce_rounding: bool = True,
        overrides: dict[str, BaseTransformer] | None = None,
    ) -> None:
        self.table_name = table_name
        self._table = metadata.get_table(table_name)
        self._key_columns = _key_columns(metadata, table_name)
        self._unique_columns = {key[0] for key in self._table.unique_constraints if len(key) == 1}
        self._encoding = categorical_encoding
        self._enforce_min_max = enforce_min_max_values
        self._enforce_rounding = enforce_rounding
        self._overrides = dict(overrides or {})
        self.roles: dict[str, str] = {}
        self.sdtypes: dict[str, str] = {}
        self.codecs: dict[str, ColumnCodec] = {}
        self.id_generators: dict[str, KeyGenerator] = {}
        self.longest_pii: dict[str, int] = {}
        self._hyper: HyperTransformer | None = None
        self._extra: list[str] = []
        self._fill: dict[str, float] = {}
        self._json_lists: set[str] = set()
        self.fitted = False

    # ------------------------------------------------------------------ planning

    def plan_transformers(self) -> dict[str, BaseTransformer | None]:
        """The transformer each column would get (None for generated and key columns)."""
        out: dict[str, BaseTransformer | None] = {}
        for name, column in self._table.columns.items():
            role, sdtype = self._planned_role(column, None)
            out[name] = self._transformer(name, sdtype) if role == "model" else None
        return out

    def _planned_role(self, column: Column, codec: ColumnCodec | None) -> tuple[str, str]:
        sdtype = column.sdtype
        if column.name in self._key_columns:
            return "key", sdtype
        if sdtype in PII_SDTYPES:
            return "pii", sdtype
        if sdtype in ("text", "id"):
            return sdtype, sdtype
        kind = codec.kind if codec else None
        if sdtype in ("numerical", "datetime") and kind in FLOAT_KINDS | DATETIME_KINDS:
            return "model", "datetime" if kind in DATETIME_KINDS else "numerical"
        if sdtype in STATISTICAL_SDTYPES and kind not in ("list", "dict", "bytes"):
            return "model", sdtype
        if kind in FLOAT_KINDS:
            return "model", "numerical"
        if kind in DATETIME_KINDS:
            return "model", "datetime"
        if kind == "bool":
            return "model", "boolean"
        return "unknown", sdtype

    def _transformer(self, name: str, sdtype: str) -> BaseTransformer:
        if name in self._overrides:
            return copy.deepcopy(self._overrides[name])
        if sdtype == "numerical":
            return FloatFormatter(
                missing_value_generation="from_column",
                learn_rounding_scheme=self._enforce_rounding,
                enforce_min_max_values=self._enforce_min_max,
            )
        if sdtype == "datetime":
            return UnixTimestampEncoder(
                missing_value_generation="from_column",
                enforce_min_max_values=self._enforce_min_max,
            )
        if self._encoding == "label":
            return LabelEncoder()
        return UniformEncoder()

    # ------------------------------------------------------------------ fitting

    def fit(self, data: pd.DataFrame) -> None:
        """Learn every column's storage, role and transformer from the real rows."""
        unknown: list[str] = []
        for name, column in self._table.columns.items():
            series = data[name]
            codec = ColumnCodec.fit(series, column)
            role, sdtype = self._planned_role(column, codec)
            if role != "key" and is_null(series).all():
                role = "null"
            self.codecs[name], self.roles[name], self.sdtypes[name] = codec, role, sdtype
            if role == "id":
                self.id_generators[name] = KeyGenerator.fit(series, codec)
            if role == "pii":
                self.longest_pii[name] = _longest(series)
            if role == "unknown":
                unknown.append(name)
        if unknown:
            log.warning(
                "table %s: columns %s hold values hsa-db cannot learn (JSON, arrays, binary or "
                "unknown types); they get placeholder values of the right type",
                self.table_name,
                ", ".join(unknown),
            )

        model = self.model_columns
        if model:
            self._hyper = HyperTransformer()
            self._hyper.set_config(
                {
                    "sdtypes": {name: self.sdtypes[name] for name in model},
                    "transformers": {
                        name: self._transformer(name, self.sdtypes[name]) for name in model
                    },
                }
            )
            self._hyper.fit(self._plain(data))
        self._fit_extra(data)
        self.fitted = True

    def _fit_extra(self, data: pd.DataFrame) -> None:
        self._extra, self._fill = [], {}
        for name, role in self.roles.items():
            if role not in ("pii", "text", "id", "unknown"):
                continue
            series = data[name]
            if is_null(series).any():
                self._extra.append(name + NULL_SUFFIX)
            if self._has_length(name):
                lengths = _lengths(series)
                self._extra.append(name + LENGTH_SUFFIX)
                self._fill[name] = float(np.nanmedian(lengths)) if np.isfinite(lengths).any() else 1
            if role == "unknown" and self.codecs[name].kind == "str":
                first = str(series.dropna().iloc[0]).lstrip() if series.notna().any() else ""
                if first.startswith("["):
                    self._json_lists.add(name)

    def _has_length(self, name: str) -> bool:
        role, kind = self.roles[name], self.codecs[name].kind
        if role == "text":
            return True
        json = (self.codecs[name].sql_type or "") == "json"
        return role == "unknown" and (kind == "bytes" or (kind == "str" and not json))

    def _plain(self, data: pd.DataFrame) -> pd.DataFrame:
        columns = {}
        for name in self.model_columns:
            codec, sdtype = self.codecs[name], self.sdtypes[name]
            if sdtype in ("numerical", "datetime"):
                columns[name] = codec.to_numbers(data[name])
            else:
                columns[name] = codec.to_objects(data[name])
        return pd.DataFrame(columns, index=data.index)

    # ------------------------------------------------------------------ properties

    @property
    def model_columns(self) -> list[str]:
        return [name for name, role in self.roles.items() if role == "model"]

    @property
    def output_columns(self) -> list[str]:
        """Names of the numeric columns :meth:`transform` returns."""
        return list(self._output_names()) + self._extra

    def _output_names(self) -> list[str]:
        if self._hyper is None:
            return []
        fields = self._hyper.get_config()["transformers"]
        names: list[str] = []
        for name, transformer in fields.items():
            names.extend(transformer.get_output_columns() if transformer else [name])
        return names

    @property
    def discrete_columns(self) -> list[str]:
        """Output columns that hold categories (codes or spread over [0, 1]) or NULL flags
        rather than quantities."""
        out = [name for name in self.output_columns if name.endswith(NULL_SUFFIX)]
        if self._hyper is not None:
            for name, transformer in self._hyper.get_config()["transformers"].items():
                categorical = self.sdtypes[name] in ("categorical", "boolean")
                if categorical or type(transformer).__name__ in DISCRETE_TRANSFORMERS:
                    out.extend(transformer.get_output_columns())
        return sorted(set(out), key=self.output_columns.index)

    def category_edges(self) -> dict[str, np.ndarray]:
        """Per output column that spreads categories over [0, 1]: where each category's
        interval ends, in order (the last edge is 1)."""
        out: dict[str, np.ndarray] = {}
        if self._hyper is None:
            return out
        for name, transformer in self._hyper.get_config()["transformers"].items():
            intervals = getattr(transformer, "intervals", None)
            if isinstance(transformer, UniformEncoder) and intervals:
                out[name] = np.sort([float(end) for _, end in intervals.values()])
        return out

    def get_transformers(self) -> dict[str, BaseTransformer | None]:
        """Fitted transformer of every column (None where the values are generated)."""
        if not self.fitted:
            return self.plan_transformers()
        fitted = self._hyper.get_config()["transformers"] if self._hyper else {}
        return {name: fitted.get(name) for name in self._table.columns}

    # ------------------------------------------------------------------ transforming

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        """The table as float columns (the non-key columns' information only)."""
        parts = []
        if self._hyper is not None:
            parts.append(self._hyper.transform(self._plain(data)))
        extra = {}
        for name in self._extra:
            column, suffix = name.rsplit(".", 1)
            if "." + suffix == NULL_SUFFIX:
                extra[name] = is_null(data[column]).astype(float)
            else:
                lengths = _lengths(data[column])
                extra[name] = np.where(np.isnan(lengths), self._fill[column], lengths)
        parts.append(pd.DataFrame(extra, index=data.index))

        numbers = pd.concat(parts, axis=1).astype("float64")
        return numbers.reset_index(drop=True)

    def reverse_transform(
        self, numbers: pd.DataFrame, state: GenerationState, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Back to the table's own dtypes; key columns come out as NULL for the keys to fill."""
        count = len(numbers)
        plain = pd.DataFrame(index=range(count))
        if self._hyper is not None:
            columns = self._output_names()
            plain = self._hyper.reverse_transform(numbers[columns].reset_index(drop=True))

        out = {}
        for name, role in self.roles.items():
            codec = self.codecs[name]
            if role == "model":
                out[name] = self._model_values(name, plain[name])
            elif role in ("key", "null"):
                out[name] = codec.nulls(count)
            else:
                out[name] = self._generated(name, numbers, state, rng)
        return pd.DataFrame(out)

    def _model_values(self, name: str, values: pd.Series) -> pd.Series:
        codec = self.codecs[name]
        if self.sdtypes[name] in ("numerical", "datetime"):
            return codec.from_numbers(values).reset_index(drop=True)
        return codec.from_objects(values.reset_index(drop=True))

    def _generated(
        self, name: str, numbers: pd.DataFrame, state: GenerationState, rng: np.random.Generator
    ) -> pd.Series:
        codec, role = self.codecs[name], self.roles[name]
        count = len(numbers)
        null = np.zeros(count, dtype=bool)
        if name + NULL_SUFFIX in numbers:
            null = numbers[name + NULL_SUFFIX].to_numpy() > 0.5
        present = int((~null).sum())
        lengths = np.empty(0)
        if name + LENGTH_SUFFIX in numbers:
            lengths = np.round(numbers[name + LENGTH_SUFFIX].to_numpy()[~null])
            if codec.length is not None:
                lengths = np.minimum(lengths, codec.length)

        if role == "pii":
            unique = (
                state.unique_values.setdefault(name, set())
                if (name in self._unique_columns)
                else None
            )
            # Without a declared length, no generated value is longer than the longest real one,
            # so that a target with stricter types than the source still takes the rows.
            length = codec.length or self.longest_pii.get(name) or None
            values: list[Any] = state.factory.pii(self.sdtypes[name], present, rng, length, unique)
        elif role == "text":
            values = state.factory.text(lengths, rng)
        elif role == "id":
            values = self.id_generators[name].generate(present, rng, state.key_state(name))
        else:
            values = self._placeholders(name, present, lengths, rng)

        column = np.full(count, None, dtype=object)
        column[~null] = _object_array(values)
        return codec.from_objects(pd.Series(column, dtype=object))

    def _placeholders(
        self, name: str, count: int, lengths: np.ndarray, rng: np.random.Generator
    ) -> list[Any]:
        codec = self.codecs[name]
        if codec.kind == "bytes":
            return random_bytes(lengths, rng)
        if codec.kind == "list":
            return [[] for _ in range(count)]
        if codec.kind == "dict":
            return [{} for _ in range(count)]
        if codec.enum_values:
            return list(rng.choice(codec.enum_values, size=count))
        if (codec.sql_type or "") == "json" or name in self._json_lists:
            return ["[]" if name in self._json_lists else "{}"] * count
        if codec.kind == "str":
            return random_strings(lengths, rng)
        raise SynthesizerError(
            f"cannot make values for column {self.table_name}.{name} of type "
            f"{codec.sql_type or codec.kind}; give it an sdtype such as 'categorical'"
        )


def _key_columns(metadata: Metadata, table_name: str) -> set[str]:
    """Columns whose values come from key generation: primary key, foreign keys and the
    columns other tables reference."""
    table = metadata.get_table(table_name)
    columns = set(table.primary_key) | metadata.foreign_key_columns(table_name)
    for relationship in metadata.get_children(table_name):
        columns.update(relationship.parent_columns)
    return columns


def _lengths(series: pd.Series) -> np.ndarray:
    out = np.full(len(series), np.nan)
    for row, value in enumerate(series.to_numpy(dtype=object)):
        if isinstance(value, (str, bytes, bytearray, list)):
            out[row] = len(value)
        elif isinstance(value, memoryview):
            out[row] = value.nbytes
    return out


def _object_array(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for row, value in enumerate(values):
        out[row] = value
    return out


def _longest(series: pd.Series) -> int:
    """The length of the longest non-null value as text (0 when there is none)."""
    present = series.dropna()
    return int(present.astype(str).str.len().max()) if len(present) else 0
