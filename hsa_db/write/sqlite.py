"""SQLite: keys declared in CREATE TABLE (SQLite cannot add them later), one explicit
transaction, and foreign keys checked with ``PRAGMA foreign_key_check`` before commit."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pandas as pd

from hsa_db.errors import WriteError
from hsa_db.metadata import Column, Table
from hsa_db.write.ddl import INTEGER_TYPES, Ddl, column_sql_type
from hsa_db.write.load import frame_columns, insert_rows
from hsa_db.write.target import UNCHANGED, Target
from hsa_db.write.values import sqlite_encoder

log = logging.getLogger(__name__)

# Declared types that SQLAlchemy's SQLite dialect reflects back to the same neutral type.
_TYPES = {
    "boolean": "BOOLEAN",
    "smallint": "SMALLINT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "real": "REAL",
    "double": "DOUBLE",
    "text": "TEXT",
    "date": "DATE",
    "time": "TIME",
    "timestamp": "DATETIME",
    "timestamptz": "DATETIME",
    "interval": "BIGINT",
    "uuid": "CHAR(36)",
    "json": "JSON",
    "binary": "BLOB",
}


class SqliteDdl(Ddl):
    """SQLite DDL: arrays as JSON text, enums as a CHECK, intervals as microseconds."""

    dialect = "sqlite"
    inline_keys: ClassVar[bool] = True
    name_limit: ClassVar[int] = 128

    def type_sql(self, table: Table, column: Column) -> str:
        sql_type = column_sql_type(column)
        base, args = sql_type.base, sql_type.args
        if sql_type.array:
            return "JSON"
        if base in INTEGER_TYPES and table.primary_key == [column.name]:
            return "INTEGER"  # an alias of the rowid, numbered by SQLite when omitted
        if base == "enum":
            longest = max((len(label) for label in column.enum_values or []), default=1)
            return f"VARCHAR({longest})"
        if base == "numeric":
            return f"NUMERIC({', '.join(map(str, args))})" if args else "NUMERIC"
        if base in ("char", "varchar"):
            return f"{base.upper()}({args[0]})" if args else "VARCHAR"
        return _TYPES[base]

    def column_extras(self, table: Table, column: Column) -> list[str]:
        sql_type = column_sql_type(column)
        if sql_type.base == "enum" and not sql_type.array and column.enum_values:
            labels = ", ".join(self.literal(label) for label in column.enum_values)
            return [f"CHECK ({self.quote(column.name)} IN ({labels}))"]
        return []

    def boolean_literal(self, value: bool) -> str:
        return "1" if value else "0"

    def qualify(self, name: str) -> str:
        return self.quote(name)


class SqliteTarget(Target):
    """One ``BEGIN IMMEDIATE`` transaction around the whole write."""

    dialect = "sqlite"
    ddl_class = SqliteDdl

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.plan.schema not in (None, "main"):
            raise WriteError(
                f"SQLite has no schemas; leave the target schema unset instead of "
                f"{self.plan.schema!r}, or give another database file"
            )
        # Explicit transactions: the sqlite3 module would otherwise commit each DDL statement.
        self.connection.isolation_level = None
        self.execute("PRAGMA foreign_keys = OFF")

    def table_names(self) -> set[str]:
        rows = self.query("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        return {row[0] for row in rows}

    def generated_columns(self, table: str) -> dict[str, bool]:
        rows = self.query(f"PRAGMA table_xinfo({self.ddl.quote(table)})")
        return {row[1]: row[6] in (2, 3) for row in rows}

    def begin(self) -> None:
        self.run("starting a transaction", ["BEGIN IMMEDIATE"])

    def prepare(self) -> None:
        ddl = self.ddl
        if self.plan.mode == "replace":
            for name in sorted(self.existing):
                self.run(f"dropping table {name}", [ddl.drop_table(name)])
        for name in self.new_tables:
            self.run(f"creating table {name}", [ddl.create_table(self.plan.table(name), keys=True)])
            self.created.append(name)
        if self.plan.mode == "truncate":
            for name in self.kept_tables:
                self.run(f"emptying table {name}", [f"DELETE FROM {ddl.qualify(name)}"])

    def load(self, table: str, frame: pd.DataFrame) -> int:
        frame, columns = self.frame_for_load(table, frame)
        if frame.empty or not columns:
            return len(frame)
        self.step = f"loading table {table}"
        values = frame_columns(frame, columns, self.sql_types(table, columns), sqlite_encoder)
        marks = ", ".join("?" for _ in columns)
        statement = (
            f"INSERT INTO {self.ddl.qualify(table)} ({self.ddl.columns(columns)}) VALUES ({marks})"
        )
        cursor = self.connection.cursor()
        try:
            insert_rows(cursor, statement, values)
        finally:
            cursor.close()
        return len(frame)

    def finish(self) -> None:
        for name in self.new_tables:
            table = self.plan.table(name)
            self.run(f"creating the indexes of table {name}", self.ddl.index_statements(table))
        self._check_foreign_keys()

    def _check_foreign_keys(self) -> None:
        """Refuse rows whose foreign key has no parent, in our tables and in tables that
        reference them (an emptied parent may leave those dangling)."""
        self.step = "checking foreign keys"
        ours = set(self.plan.order)
        tables = set(ours)
        for name in self.table_names() - ours:
            references = self.query(f"PRAGMA foreign_key_list({self.ddl.quote(name)})")
            if any(row[2] in ours for row in references):
                tables.add(name)
        for name in sorted(tables):
            rows = self.query(f"PRAGMA foreign_key_check({self.ddl.quote(name)})")
            if rows:
                missing_in = sorted({str(row[2]) for row in rows})
                raise WriteError(
                    f"{len(rows)} rows of table {name} have a foreign key with no matching row "
                    f"in {', '.join(missing_in)}; fix the data or the relationships in the metadata"
                )

    def commit(self) -> None:
        self.run("committing", ["COMMIT"])

    def abort(self) -> str:
        try:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
        except Exception:
            log.debug("rollback failed; closing the connection instead", exc_info=True)
            self.fairy.invalidate()
        return UNCHANGED
