"""A folder of CSV or Parquet files read as a database: one DuckDB view per file.

The files carry no keys, so they are inferred from column names: a table's primary key is
its ``id`` or ``<table>_id`` column when the values are unique and never null, and a column
``<other>_id`` refers to table ``other`` (or ``others``) when that table has such a key.
Inferred relationships are marked ``inferred`` so that summaries can say so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from hsa_db.errors import DatabaseError
from hsa_db.metadata import Metadata
from hsa_db.sdtypes import name_tokens, type_family

log = logging.getLogger(__name__)

READERS = {".csv": "read_csv_auto", ".parquet": "read_parquet"}
_FOLDER_KEY = "hsa_db_folder"


def folder_files(folder: Path) -> dict[str, Path]:
    """Table name (the file's stem) -> file, for every CSV/Parquet file of ``folder``."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in READERS or not path.is_file():
            continue
        if path.stem in found:
            raise DatabaseError(
                f"{found[path.stem].name} and {path.name} in {folder} would both be table "
                f"{path.stem!r}; keep one of them"
            )
        found[path.stem] = path
    if not found:
        raise DatabaseError(f"{str(folder)!r} holds no .csv or .parquet files; check the folder")
    return found


def folder_engine(folder: Path) -> Engine:
    """An in-memory DuckDB engine where each file of ``folder`` is a view of the same name."""
    tables = folder_files(folder)
    engine = sa.create_engine("duckdb:///:memory:")

    def create_views(dbapi_connection: Any, record: Any) -> None:
        for name, path in tables.items():
            reader = READERS[path.suffix.lower()]
            location = str(path.resolve()).replace("'", "''")
            quoted = name.replace('"', '""')
            try:
                dbapi_connection.execute(
                    f"CREATE VIEW \"{quoted}\" AS SELECT * FROM {reader}('{location}')"
                )
            except Exception as error:  # DuckDB raises many kinds for an unreadable file
                first = str(error).strip().splitlines()[0]
                raise DatabaseError(f"cannot read {path}: {first}; check the file") from None
        record.info[_FOLDER_KEY] = str(folder)

    sa.event.listen(engine, "connect", create_views)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except DBAPIError as error:
        engine.dispose()
        raise DatabaseError(f"cannot read the files of {folder}: {error.orig}") from None
    return engine


def is_folder_connection(connection: sa.Connection) -> bool:
    """Whether ``connection`` comes from :func:`folder_engine`."""
    return _FOLDER_KEY in connection.info


def infer_primary_key(connection: sa.Connection, table: str, columns: list[str]) -> list[str]:
    """``[id]`` or ``[<table>_id]`` when that column is unique and never null, else ``[]``."""
    singular = _singular(table)
    wanted = {"id", f"{table}_id".lower(), f"{singular}_id", f"{table}id".lower(), f"{singular}id"}
    candidates = [name for name in columns if name.lower() in wanted]
    if not candidates:
        return []

    quote = connection.dialect.identifier_preparer.quote_identifier
    name = candidates[0]
    total, distinct, present = connection.exec_driver_sql(
        f"SELECT count(*), count(DISTINCT {quote(name)}), count({quote(name)}) FROM {quote(table)}"
    ).one()
    return [name] if total == distinct == present else []


def infer_relationships(metadata: Metadata) -> None:
    """Add a relationship for every ``<other>_id`` column that names a table with that key."""
    by_name = {}
    for name, table in metadata.tables.items():
        if len(table.primary_key) == 1:
            by_name[name.lower()] = name
            by_name.setdefault(_singular(name), name)

    for child_name, child in metadata.tables.items():
        for column in child.columns.values():
            tokens = name_tokens(column.name)
            if len(tokens) < 2 or tokens[-1] != "id" or [column.name] == child.primary_key:
                continue
            parent_name = by_name.get("_".join(tokens[:-1])) or by_name.get("".join(tokens[:-1]))
            if parent_name is None or parent_name == child_name:
                continue
            key = metadata.tables[parent_name].primary_key
            parent_column = metadata.tables[parent_name].columns[key[0]]
            if type_family(parent_column.sql_type) != type_family(column.sql_type):
                continue
            relationship = metadata.add_relationship(parent_name, child_name, key, [column.name])
            relationship.inferred = True


def _singular(name: str) -> str:
    lowered = name.lower()
    if lowered.endswith("ies"):
        return lowered[:-3] + "y"
    if lowered.endswith("s") and not lowered.endswith("ss"):
        return lowered[:-1]
    return lowered
