"""Bulk loading: COPY on PostgreSQL, multi-row INSERTs built from SQL literals on MySQL/MariaDB
(much faster than the driver's per-value escaping), ``executemany`` on SQLite; DuckDB scans
the DataFrame itself (see :mod:`hsa_db.write.duckdb`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from hsa_db.write.ddl import SqlType
from hsa_db.write.values import Encoder, encode, python_values

log = logging.getLogger(__name__)

#: Length of one multi-row INSERT statement, well below MySQL's default max_allowed_packet.
STATEMENT_BYTES = 1_000_000

#: Rows handed to ``executemany`` at a time, so that a large batch is not turned into Python
#: tuples all at once.
CHUNK_ROWS = 20_000


def frame_columns(
    frame: pd.DataFrame,
    columns: Sequence[str],
    sql_types: Sequence[SqlType],
    encoder_for: Callable[[SqlType], Encoder | None],
) -> list[list[Any]]:
    """The chosen columns of ``frame`` as lists of driver-ready values."""
    return [
        encode(python_values(frame[name], sql_type), encoder_for(sql_type))
        for name, sql_type in zip(columns, sql_types, strict=True)
    ]


def copy_rows(
    cursor: Any, statement: str, values: list[list[Any]], types: list[str] | None = None
) -> None:
    """Stream rows through PostgreSQL's COPY FROM STDIN (psycopg 3); ``types`` name the
    columns' types for a binary COPY."""
    with cursor.copy(statement) as copy:
        if types is not None:
            copy.set_types(types)
        for row in zip(*values, strict=True):
            copy.write_row(row)


def insert_literal_rows(cursor: Any, prefix: str, literals: list[list[str | None]]) -> None:
    """Multi-row INSERTs of values already written as SQL literals (``None`` for NULL), in
    statements of about :data:`STATEMENT_BYTES`."""
    rows: list[str] = []
    size = 0
    for row in zip(*literals, strict=True):
        text = "(" + ",".join("NULL" if value is None else value for value in row) + ")"
        rows.append(text)
        size += len(text) + 1
        if size >= STATEMENT_BYTES:
            cursor.execute(prefix + ",".join(rows))
            rows, size = [], 0
    if rows:
        cursor.execute(prefix + ",".join(rows))


def insert_rows(cursor: Any, statement: str, values: list[list[Any]]) -> None:
    """Insert rows with ``executemany``; PyMySQL turns it into multi-row INSERTs."""
    rows = list(zip(*values, strict=True))
    for start in range(0, len(rows), CHUNK_ROWS):
        cursor.executemany(statement, rows[start : start + CHUNK_ROWS])
