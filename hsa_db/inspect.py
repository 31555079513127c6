"""A readable summary of a database's metadata: tables, rows, keys, relationships, sdtypes."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.exc import DBAPIError

from hsa_db.errors import DatabaseError
from hsa_db.metadata import PII_SDTYPES, Metadata, Relationship, Table
from hsa_db.reflect import (
    Source,
    first_line,
    postgres_estimates,
    qualified_name,
    source_engine,
    source_name,
)

#: Above this many rows (by PostgreSQL's estimate) the estimate is shown instead of a count.
ESTIMATE_ABOVE_ROWS = 1_000_000
_WIDTH = 100


def count_rows(location: Source, metadata: Metadata) -> dict[str, int]:
    """Rows per table: ``count(*)``, or PostgreSQL's estimate for tables above a million rows."""
    where = source_name(location)
    counts: dict[str, int] = {}
    with source_engine(location) as engine:
        try:
            with engine.connect() as connection:
                names = list(metadata.tables)
                estimates = postgres_estimates(connection, names, metadata.schema)
                for name in names:
                    estimate = estimates.get(name, -1.0)
                    if estimate > ESTIMATE_ABOVE_ROWS:
                        counts[name] = int(estimate)
                        continue
                    table = qualified_name(connection, metadata.schema, name)
                    sql = f"SELECT count(*) FROM {table}"
                    counts[name] = int(connection.exec_driver_sql(sql).scalar() or 0)
        except DBAPIError as error:
            raise DatabaseError(f"cannot count the rows of {where}: {first_line(error)}") from None
    return counts


def describe(metadata: Metadata, row_counts: dict[str, int]) -> str:
    """The metadata as text for people: one block per table, then relationships and PII."""
    total = sum(row_counts.get(name, 0) for name in metadata.tables)
    lines = [
        f"{_plural(len(metadata.tables), 'table')}, {_plural(total, 'row')}, "
        f"{_plural(len(metadata.relationships), 'relationship')}"
        + (f" (schema {metadata.schema})" if metadata.schema else "")
    ]
    for table in metadata.tables.values():
        lines.append("")
        lines.extend(_table_lines(metadata, table, row_counts.get(table.name)))

    lines.extend(_relationship_lines(metadata))
    lines.extend(_structure_lines(metadata))
    lines.extend(_pii_lines(metadata))
    return "\n".join(lines)


def link_tables(metadata: Metadata) -> list[str]:
    """Tables that only join two or more parents: every column belongs to a foreign key."""
    found = []
    for name, table in metadata.tables.items():
        parents = metadata.get_parents(name)
        if len(parents) >= 2 and set(table.columns) <= metadata.foreign_key_columns(name):
            found.append(name)
    return found


def _table_lines(metadata: Metadata, table: Table, rows: int | None) -> list[str]:
    counted = "rows unknown" if rows is None else _plural(rows, "row")
    lines = [f"{table.name} ({counted})"]
    if table.primary_key:
        lines.append(f"  primary key  {_key(table.primary_key)}")
    else:
        lines.append("  primary key  none")
    for unique in table.unique_constraints:
        lines.append(f"  unique       {_key(unique)}")
    columns = [f"{column.name}: {column.sdtype}" for column in table.columns.values()]
    lines.extend(_wrapped("  columns      ", columns))
    return lines


def _relationship_lines(metadata: Metadata) -> list[str]:
    if not metadata.relationships:
        return []
    lines = ["", "Relationships (child -> parent)"]
    for relationship in metadata.relationships:
        notes = _relationship_notes(metadata, relationship)
        text = (
            f"  {relationship.child_table}{_key(relationship.child_columns, bracket=True)} -> "
            f"{relationship.parent_table}{_key(relationship.parent_columns, bracket=True)}"
        )
        lines.append(text + (f"  [{'; '.join(notes)}]" if notes else ""))
    return lines


def _relationship_notes(metadata: Metadata, relationship: Relationship) -> list[str]:
    notes = []
    if relationship.is_self_reference:
        notes.append("self-reference")
    if len(relationship.child_columns) > 1:
        notes.append("composite key")
    parent = metadata.tables.get(relationship.parent_table)
    if parent is not None and sorted(parent.primary_key) != sorted(relationship.parent_columns):
        notes.append("to a unique key, not the primary key")
    child = metadata.tables.get(relationship.child_table)
    if child is not None and all(
        child.columns[name].nullable for name in relationship.child_columns if name in child.columns
    ):
        notes.append("nullable")
    if relationship.inferred:
        notes.append("inferred from column names")
    return notes


def _structure_lines(metadata: Metadata) -> list[str]:
    lines: list[str] = []
    links = link_tables(metadata)
    if links:
        lines.extend(_wrapped("Link tables: ", links))
    composite = [
        f"{name} {_key(table.primary_key)}"
        for name, table in metadata.tables.items()
        if len(table.primary_key) > 1
    ]
    if composite:
        lines.extend(_wrapped("Composite primary keys: ", composite))
    for cycle in metadata.find_cycles():
        lines.append(f"Cycle: {' <-> '.join(cycle)}")
    without = [name for name, table in metadata.tables.items() if not table.primary_key]
    if without:
        lines.extend(_wrapped("Tables without a primary key: ", without))
    return [""] + lines if lines else []


def _pii_lines(metadata: Metadata) -> list[str]:
    found = [
        (name, column.name, column.sdtype)
        for name, table in metadata.tables.items()
        for column in table.columns.values()
        if column.pii or column.sdtype in PII_SDTYPES
    ]
    if not found:
        return ["", "PII columns: none detected"]
    lines = ["", f"PII columns ({len(found)}, replaced by generated values, never copied)"]
    for table in dict.fromkeys(name for name, _, _ in found):
        columns = [f"{column} ({sdtype})" for name, column, sdtype in found if name == table]
        lines.extend(_wrapped(f"  {table}: ", columns))
    return lines


def _key(columns: Iterable[str], bracket: bool = False) -> str:
    columns = list(columns)
    if bracket:
        return f"({', '.join(columns)})"
    return columns[0] if len(columns) == 1 else f"({', '.join(columns)})"


def _wrapped(prefix: str, items: list[str]) -> list[str]:
    """``items`` joined by commas after ``prefix``, wrapped between items, never inside one."""
    lines = [prefix]
    for position, item in enumerate(items):
        text = item + ("," if position < len(items) - 1 else "")
        if len(lines[-1]) + len(text) + 1 > _WIDTH and lines[-1].strip():
            lines.append(" " * len(prefix))
        lines[-1] += ("" if lines[-1].endswith(" ") or not lines[-1].strip() else " ") + text
    return lines


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
