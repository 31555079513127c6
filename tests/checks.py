"""Checks on a written database, shared by the tests: keys hold, counts and types match."""

from __future__ import annotations

import sqlalchemy as sa

from hsa_db.db import create_engine, parse_location
from hsa_db.metadata import Metadata


def _quote(engine: sa.Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote(name)


def table_ref(engine: sa.Engine, table: str, schema: str | None = None) -> str:
    name = _quote(engine, table)
    return f"{_quote(engine, schema)}.{name}" if schema else name


def dangling_foreign_keys(url: str, metadata: Metadata, schema: str | None = None) -> dict:
    """Per relationship, the number of child rows whose non-NULL key has no parent row."""
    engine = create_engine(parse_location(url), read_only=True)
    found = {}
    with engine.connect() as connection:
        for rel in metadata.relationships:
            child = table_ref(engine, rel.child_table, schema)
            parent = table_ref(engine, rel.parent_table, schema)
            joined = " AND ".join(
                f"p.{_quote(engine, p)} = c.{_quote(engine, c)}"
                for p, c in zip(rel.parent_columns, rel.child_columns, strict=True)
            )
            not_null = " AND ".join(f"c.{_quote(engine, c)} IS NOT NULL" for c in rel.child_columns)
            sql = (
                f"SELECT count(*) FROM {child} c WHERE {not_null} AND NOT EXISTS "
                f"(SELECT 1 FROM {parent} p WHERE {joined})"
            )
            found[f"{rel.child_table}{rel.child_columns}"] = connection.exec_driver_sql(
                sql
            ).scalar()
    engine.dispose()
    return found


def duplicate_keys(url: str, metadata: Metadata, schema: str | None = None) -> dict:
    """Per primary or unique key, the number of key values that occur more than once."""
    engine = create_engine(parse_location(url), read_only=True)
    found = {}
    with engine.connect() as connection:
        for table in metadata.tables.values():
            for key in [table.primary_key, *table.unique_constraints]:
                if not key:
                    continue
                columns = ", ".join(_quote(engine, c) for c in key)
                not_null = " AND ".join(f"{_quote(engine, c)} IS NOT NULL" for c in key)
                sql = (
                    f"SELECT count(*) FROM (SELECT {columns} FROM "
                    f"{table_ref(engine, table.name, schema)} WHERE {not_null} "
                    f"GROUP BY {columns} HAVING count(*) > 1) d"
                )
                found[f"{table.name}{key}"] = connection.exec_driver_sql(sql).scalar()
    engine.dispose()
    return found


def row_counts(url: str, metadata: Metadata, schema: str | None = None) -> dict[str, int]:
    engine = create_engine(parse_location(url), read_only=True)
    with engine.connect() as connection:
        counts = {
            name: connection.exec_driver_sql(
                f"SELECT count(*) FROM {table_ref(engine, name, schema)}"
            ).scalar()
            for name in metadata.tables
        }
    engine.dispose()
    return counts
