"""What a write will do, decided before the target is touched: resolved column types, the order
of the tables, the columns to insert and, when appending, how far to shift generated keys."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hsa_db.errors import WriteError
from hsa_db.metadata import Column, Metadata, Table
from hsa_db.write.ddl import INTEGER_TYPES, column_sql_type

log = logging.getLogger(__name__)

IF_EXISTS_MODES = ("fail", "replace", "truncate", "append")

Batch = Mapping[str, pd.DataFrame]

#: Neutral types guessed from a column's sdtype when the metadata carries no ``sql_type``.
_SDTYPE_TYPES = {
    "numerical": "double",
    "boolean": "boolean",
    "datetime": "timestamp",
}


@dataclass
class WritePlan:
    """The resolved metadata and the choices a write makes about it."""

    metadata: Metadata
    mode: str
    schema: str | None
    order: list[str] = field(default_factory=list)

    def table(self, name: str) -> Table:
        return self.metadata.tables[name]

    def insertable(self, name: str) -> list[str]:
        """Columns of the metadata that rows may carry (generated columns are left out)."""
        return [c.name for c in self.table(name).columns.values() if not c.generated]


def make_plan(metadata: Metadata, sample: Batch, mode: str, schema: str | None) -> WritePlan:
    """Check the request and resolve every column's ``sql_type`` (from ``sample`` if needed)."""
    if mode not in IF_EXISTS_MODES:
        raise WriteError(
            f"if_exists={mode!r} is not known; use one of {', '.join(IF_EXISTS_MODES)}"
        )
    metadata.validate()
    resolved = metadata.copy()
    for table in resolved.tables.values():
        frame = sample.get(table.name)
        for column in table.columns.values():
            if column.sql_type is None:
                series = frame[column.name] if frame is not None and column.name in frame else None
                column.sql_type = guess_sql_type(column, series)

    return WritePlan(resolved, mode, schema or None, resolved.topological_order())


def guess_sql_type(column: Column, series: pd.Series | None) -> str:
    """A neutral type for a column the metadata gives none, from its values or its sdtype."""
    if column.enum_values:
        return "enum"
    if series is not None:
        dtype = series.dtype
        if pd.api.types.is_bool_dtype(dtype):
            return "boolean"
        if pd.api.types.is_integer_dtype(dtype):
            return "bigint"
        if pd.api.types.is_float_dtype(dtype):
            return "double"
        if isinstance(dtype, pd.DatetimeTZDtype):
            return "timestamptz"
        if pd.api.types.is_datetime64_dtype(dtype):
            return "timestamp"
        if pd.api.types.is_timedelta64_dtype(dtype):
            return "interval"
    representation = str(column.extra.get("computer_representation", ""))
    if column.sdtype == "numerical" and representation.lower().startswith(("int", "uint")):
        return "bigint"
    return _SDTYPE_TYPES.get(column.sdtype, "text")


def iterate_batches(data: Batch | Iterable[Batch]) -> Iterator[Batch]:
    """One dict of frames, or an iterable of them, as an iterator of batches."""
    if isinstance(data, Mapping):
        yield data
        return
    for batch in data:
        if not isinstance(batch, Mapping):
            raise WriteError(
                f"data must be a dict of DataFrames or an iterable of such dicts, got a batch of "
                f"type {type(batch).__name__}"
            )
        yield batch


def with_last(batches: Iterator[Batch]) -> Iterator[tuple[Batch, bool]]:
    """Each batch with a flag that says whether it is the last one."""
    previous: Batch | None = None
    for batch in batches:
        if previous is not None:
            yield previous, False
        previous = batch
    if previous is not None:
        yield previous, True


# --------------------------------------------------------------------- appending


def key_roots(metadata: Metadata) -> dict[tuple[str, str], tuple[str, str]]:
    """Integer key columns mapped to the generated key they carry when rows are appended.

    A root is a single-column integer primary or unique key that is not itself a foreign key;
    a foreign key column that references a root (directly, down a chain, or as one column of a
    composite key) carries that root.
    """
    roots: dict[tuple[str, str], tuple[str, str]] = {}
    for table in metadata.tables.values():
        foreign = metadata.foreign_key_columns(table.name)
        for key in [table.primary_key, *table.unique_constraints]:
            if len(key) == 1 and key[0] not in foreign and _is_integer(table.columns[key[0]]):
                roots[(table.name, key[0])] = (table.name, key[0])

    changed = True
    while changed:
        changed = False
        for rel in metadata.relationships:
            pairs = zip(rel.parent_columns, rel.child_columns, strict=True)
            for parent_column, child_column in pairs:
                child = (rel.child_table, child_column)
                root = roots.get((rel.parent_table, parent_column))
                integer = _is_integer(metadata.tables[child[0]].columns[child[1]])
                if root is not None and child not in roots and integer:
                    roots[child] = root
                    changed = True
    return roots


def _is_integer(column: Column) -> bool:
    sql_type = column_sql_type(column)
    return sql_type.base in INTEGER_TYPES and not sql_type.array


def shift_keys(
    frame: pd.DataFrame,
    table: str,
    roots: dict[tuple[str, str], tuple[str, str]],
    offsets: dict[tuple[str, str], int],
) -> pd.DataFrame:
    """``frame`` with its generated keys moved past the target's largest ones."""
    shifted = None
    for column in frame.columns:
        root = roots.get((table, column))
        offset = offsets.get(root, 0) if root is not None else 0
        if offset:
            shifted = frame.copy() if shifted is None else shifted
            shifted[column] = shifted[column] + offset
    return frame if shifted is None else shifted


def check_frame(plan: WritePlan, table: str, frame: Any) -> None:
    """Refuse a batch entry that names an unknown table or unknown columns."""
    if table not in plan.metadata.tables:
        known = ", ".join(sorted(plan.metadata.tables)) or "none"
        raise WriteError(
            f"the data has a table {table!r} that the metadata lacks (known: {known}); "
            "add it to the metadata or leave it out of the data"
        )
    if not isinstance(frame, pd.DataFrame):
        raise WriteError(f"data for table {table!r} is a {type(frame).__name__}, not a DataFrame")
    unknown = [str(name) for name in frame.columns if name not in plan.table(table).columns]
    if unknown:
        raise WriteError(
            f"data for table {table!r} has columns the metadata lacks: {', '.join(unknown)}; "
            "add them to the metadata or drop them from the data"
        )
