"""The target of a write: one connection, the tables it has, and the steps every dialect takes.

:class:`Target` keeps what the dialects share (finding the tables that already exist, the
refusal of ``if_exists='fail'``, choosing the columns to insert, the key offsets of an append);
each dialect module subclasses it with its own transaction, DDL and bulk load.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import pandas as pd
from sqlalchemy.engine import Engine

from hsa_db.db import Location
from hsa_db.errors import WriteError
from hsa_db.write.ddl import Ddl, column_sql_type, enum_name, foreign_keys
from hsa_db.write.plan import WritePlan, key_roots, shift_keys

log = logging.getLogger(__name__)

UNCHANGED = "the target is unchanged"


class Target:
    """A database being written, through one driver connection held for the whole write."""

    dialect: ClassVar[str] = ""
    ddl_class: ClassVar[type[Ddl]] = Ddl

    def __init__(self, engine: Engine, location: Location, plan: WritePlan) -> None:
        self.engine = engine
        self.location = location
        self.plan = plan
        self.fairy = engine.raw_connection()
        self.connection: Any = self.fairy.driver_connection
        self.ddl = self.make_ddl()
        self.step = "connecting"
        self.existing: set[str] = set()
        self.created: list[str] = []
        self.columns: dict[str, list[str]] = {}
        self.roots: dict[tuple[str, str], tuple[str, str]] = {}
        self.offsets: dict[tuple[str, str], int] = {}

    def make_ddl(self) -> Ddl:
        return self.ddl_class(self.plan.metadata, self.plan.schema)

    @property
    def warnings(self) -> list[str]:
        return self.ddl.warnings

    @property
    def new_tables(self) -> list[str]:
        """Tables this write creates, parents first."""
        keep = self.existing if self.plan.mode in ("truncate", "append") else set()
        return [name for name in self.plan.order if name not in keep]

    @property
    def kept_tables(self) -> list[str]:
        """Existing tables whose definition is kept (truncate, append), parents first."""
        if self.plan.mode not in ("truncate", "append"):
            return []
        return [name for name in self.plan.order if name in self.existing]

    # ----------------------------------------------------------------- statements

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        log.debug("%s", sql)
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, params) if params is not None else cursor.execute(sql)
        finally:
            cursor.close()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, params) if params is not None else cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def run(self, step: str, statements: Sequence[str]) -> None:
        """Execute ``statements`` as one named step (the name appears in error messages)."""
        self.step = step
        for sql in statements:
            self.execute(sql)

    # ----------------------------------------------------------------- catalogue

    def table_names(self) -> set[str]:
        """Names of the tables and views in the target schema."""
        raise NotImplementedError

    def generated_columns(self, table: str) -> dict[str, bool]:
        """The columns of an existing table, each with whether the database generates it."""
        raise NotImplementedError

    def max_value(self, table: str, column: str) -> int:
        """The largest value of an integer column, 0 for an empty table."""
        sql = f"SELECT MAX({self.ddl.quote(column)}) FROM {self.ddl.qualify(table)}"
        value = self.query(sql)[0][0]
        return int(value) if value is not None else 0

    # ----------------------------------------------------------------- the write

    def inspect(self) -> None:
        """Find which tables exist and refuse what ``if_exists`` forbids, touching nothing."""
        self.step = "reading the target's tables"
        present = self.table_names()
        self.existing = {name for name in self.plan.metadata.tables if name in present}
        if self.existing and self.plan.mode == "fail":
            names = ", ".join(sorted(self.existing))
            raise WriteError(
                f"{self.location.masked()} already has tables {names}; nothing was written; "
                "choose if_exists 'replace', 'truncate' or 'append' (--if-exists in the CLI)"
            )

        for name in self.plan.order:
            self.columns[name] = self.plan.insertable(name)
        for name in self.kept_tables:
            self.columns[name] = self._kept_columns(name)
        if self.plan.mode == "append":
            self._measure_keys()

    def _kept_columns(self, name: str) -> list[str]:
        target = self.generated_columns(name)
        missing = [column for column in self.plan.insertable(name) if column not in target]
        if missing:
            raise WriteError(
                f"table {name} in {self.location.masked()} lacks columns {', '.join(missing)}; "
                "nothing was written; add them or use if_exists='replace'"
            )
        return [column for column in self.plan.insertable(name) if not target[column]]

    def _measure_keys(self) -> None:
        """Offsets that move appended generated keys past the target's largest ones."""
        self.step = "measuring the keys of the existing rows"
        self.roots = key_roots(self.plan.metadata)
        for root in set(self.roots.values()):
            if root[0] in self.existing:
                self.offsets[root] = self.max_value(*root)
        log.debug("append key offsets: %s", self.offsets)

    def frame_for_load(self, table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """The part of ``frame`` to insert (generated columns dropped) and its column names."""
        columns = [name for name in self.columns[table] if name in frame.columns]
        if self.offsets:
            frame = shift_keys(frame[columns], table, self.roots, self.offsets)
        return frame, columns

    def sql_types(self, table: str, columns: list[str]) -> list[Any]:
        resolved = self.plan.table(table).columns
        return [column_sql_type(resolved[name]) for name in columns]

    def new_foreign_keys(self) -> list[Any]:
        """Relationships to declare: those whose child table this write creates."""
        created = set(self.new_tables)
        return [rel for rel in foreign_keys(self.plan.metadata) if rel.child_table in created]

    def create_enums(self) -> None:
        """Create the enum types the new tables use; reuse one that already has the labels."""
        used = {
            enum_name(self.plan.table(name), column)
            for name in self.new_tables
            for column in self.plan.table(name).columns.values()
            if column_sql_type(column).base == "enum"
        }
        for enum in self.ddl.enum_types():
            if enum.name not in used:
                continue
            self.step = f"creating enum type {enum.name}"
            labels = self.enum_labels(enum.name)
            if labels is not None and set(enum.labels) <= set(labels):
                continue
            if labels is not None and self.plan.mode != "replace":
                raise WriteError(
                    f"enum type {enum.name} already exists in {self.location.masked()} with "
                    f"values {labels}, not {list(enum.labels)}; drop it or use "
                    "if_exists='replace'"
                )
            if labels is not None:
                self.execute(f"DROP TYPE {self.ddl.qualify(enum.name)}")
            statement = self.ddl.create_enum(enum)
            if statement:
                self.execute(statement)

    def enum_labels(self, name: str) -> list[str] | None:
        """The labels of an existing enum type of the target schema, ``None`` if it has none."""
        return None

    def begin(self) -> None:
        """Start the transaction that holds the whole write (where the dialect can)."""

    def prepare(self) -> None:
        """Drop, create or empty the tables so that rows can be loaded."""
        raise NotImplementedError

    def load(self, table: str, frame: pd.DataFrame) -> int:
        """Load the rows of one batch of one table; return how many."""
        raise NotImplementedError

    def finish(self) -> None:
        """Keys, foreign keys, indexes and sequences, after every row is in."""
        raise NotImplementedError

    def commit(self) -> None:
        self.step = "committing"
        self.connection.commit()

    def abort(self) -> str:
        """Undo what can be undone after a failure; say what is left in the target."""
        try:
            self.connection.rollback()
        except Exception:  # a broken connection rolls back when it closes
            log.debug("rollback failed; closing the connection instead", exc_info=True)
            self.fairy.invalidate()
        return UNCHANGED

    def close(self) -> None:
        try:
            self.fairy.close()
        except Exception:
            log.debug("closing the connection failed", exc_info=True)
