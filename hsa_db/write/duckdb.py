"""DuckDB: batches land in temporary staging tables; at the end the real tables are created with
their keys (DuckDB cannot add foreign keys later) and filled parents first, all in one
transaction.

DuckDB checks a foreign key when a row is inserted and cannot see rows of the same statement,
so a self-referencing table is filled in rounds, parents before children. A foreign key that
closes a cycle between tables cannot be declared at all: the first table of the cycle would
have to reference a table that does not exist yet. Such keys are left out with a warning; the
values still join.
"""

from __future__ import annotations

import logging
import re
import uuid as uuid_module
from typing import Any, ClassVar

import pandas as pd

from hsa_db.errors import WriteError
from hsa_db.metadata import Column, Relationship, Table
from hsa_db.write.ddl import Ddl, EnumType, SqlType, column_sql_type, enum_name, short_name
from hsa_db.write.target import Target
from hsa_db.write.values import array_list, json_text

log = logging.getLogger(__name__)

_TYPES = {
    "boolean": "BOOLEAN",
    "smallint": "SMALLINT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "real": "REAL",
    "double": "DOUBLE",
    "char": "VARCHAR",
    "varchar": "VARCHAR",
    "text": "VARCHAR",
    "date": "DATE",
    "time": "TIME",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
    "interval": "INTERVAL",
    "uuid": "UUID",
    "json": "JSON",
    "binary": "BLOB",
}

#: DuckDB's widest DECIMAL; wider numerics become DOUBLE.
MAX_PRECISION = 38
#: Scale of a numeric declared without precision (PostgreSQL's unbounded ``numeric``).
UNBOUNDED_NUMERIC = "DECIMAL(38, 10)"


class DuckdbDdl(Ddl):
    """DuckDB DDL: named enums, native lists, identity columns through sequences."""

    dialect = "duckdb"
    inline_keys: ClassVar[bool] = True
    name_limit: ClassVar[int] = 128

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.available: set[str] = set()
        self.staging = False

    def type_sql(self, table: Table, column: Column) -> str:
        sql_type = column_sql_type(column)
        element = self.element_sql(table, column, sql_type)
        return element + "[]" if sql_type.array else element

    def element_sql(self, table: Table, column: Column, sql_type: SqlType) -> str:
        base, args = sql_type.base, sql_type.args
        if base == "enum":
            return "VARCHAR" if self.staging else self.qualify(enum_name(table, column))
        if base == "numeric" and not args:
            return UNBOUNDED_NUMERIC
        if base == "numeric" and args[0] > MAX_PRECISION:
            self.warn(
                f"{table.name}.{column.name} is numeric({args[0]}), wider than DuckDB's "
                f"DECIMAL({MAX_PRECISION}); written as DOUBLE"
            )
            return "DOUBLE"
        if base == "numeric":
            return f"DECIMAL({', '.join(map(str, args))})"
        return _TYPES[base]

    def create_enum(self, enum: EnumType) -> str:
        labels = ", ".join(self.literal(label) for label in enum.labels)
        return f"CREATE TYPE {self.qualify(enum.name)} AS ENUM ({labels})"

    def sequence_name(self, table: str, column: str) -> str:
        return short_name(table, column, suffix="seq", limit=self.name_limit)

    def identity_sql(self, table: Table, column: Column) -> list[str]:
        sequence = self.qualify(self.sequence_name(table.name, column.name))
        return [f"DEFAULT nextval({self.literal(sequence)})"]

    def create_sequence(self, table: str, column: str, start: int) -> str:
        return f"CREATE SEQUENCE {self.qualify(self.sequence_name(table, column))} START {start}"

    def generated_sql(self, column: Column) -> str:
        return f"GENERATED ALWAYS AS ({self.expression(column.generated or '')}) VIRTUAL"

    def function_default(self, name: str, sql_type: SqlType) -> str | None:
        return "gen_random_uuid()" if name == "uuid" else name.upper()

    def empty_array_default(self) -> str:
        return "[]"

    def create_table(self, table: Table, keys: bool) -> str:
        statement = super().create_table(table, keys)
        self.available.add(table.name)
        return statement

    def inline_foreign_keys(self, table: Table) -> list[Relationship]:
        declared = []
        for rel in super().inline_foreign_keys(table):
            if rel.parent_table == table.name or rel.parent_table in self.available:
                declared.append(rel)
                continue
            columns = ", ".join(rel.child_columns)
            self.warn(
                f"DuckDB cannot declare the foreign key {rel.child_table}({columns}) -> "
                f"{rel.parent_table}: it closes a cycle and DuckDB cannot add a foreign key to "
                "an existing table; the values join but the key is not enforced"
            )
        return declared

    def schema_statements(self) -> list[str]:
        identities = [
            self.create_sequence(table.name, column.name, 1)
            for table in self.metadata.tables.values()
            for column in table.columns.values()
            if self.is_identity(column) and not column.generated
        ]
        statements = super().schema_statements()
        enums = sum(1 for statement in statements if statement.startswith("CREATE TYPE"))
        return statements[:enums] + identities + statements[enums:]

    def staging_table(self, table: Table, columns: list[str], name: str) -> str:
        """A temporary table without constraints that collects the batches of ``table``."""
        self.staging = True
        try:
            lines = [
                f"{self.quote(column)} {self.type_sql(table, table.columns[column])}"
                for column in columns
            ]
        finally:
            self.staging = False
        return f"CREATE TEMPORARY TABLE {self.quote(name)} ({', '.join(lines)})"


class DuckdbTarget(Target):
    """One transaction: staging tables, then the real tables created and filled in order."""

    dialect = "duckdb"
    ddl_class = DuckdbDdl

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ddl: DuckdbDdl
        self.schema_name = self.plan.schema or self.query("SELECT current_schema()")[0][0]
        token = uuid_module.uuid4().hex[:8]
        self.stages = {
            name: f"hsa_stage_{token}_{index}" for index, name in enumerate(self.plan.order)
        }
        self.loaded: dict[str, set[str]] = {name: set() for name in self.plan.order}

    def table_names(self) -> set[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = ? AND table_catalog = current_database()",
            [self.schema_name],
        )
        return {row[0] for row in rows}

    def generated_columns(self, table: str) -> dict[str, bool]:
        rows = self.query(
            "SELECT column_name, is_generated FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? AND table_catalog = current_database()",
            [self.schema_name, table],
        )
        return {name: generated == "ALWAYS" for name, generated in rows}

    def enum_labels(self, name: str) -> list[str] | None:
        rows = self.query(
            "SELECT logical_type FROM duckdb_types() WHERE schema_name = ? AND type_name = ? "
            "AND database_name = current_database()",
            [self.schema_name, name],
        )
        if not rows:
            return None
        if rows[0][0] != "ENUM":
            return []
        return list(self.query(f"SELECT enum_range(NULL::{self.ddl.qualify(name)})")[0][0])

    def foreign_key_pairs(self) -> list[tuple[str, str]]:
        """(child, parent) table pairs of the foreign keys declared in the target schema."""
        rows = self.query(
            "SELECT table_name, referenced_table FROM duckdb_constraints() "
            "WHERE constraint_type = 'FOREIGN KEY' AND schema_name = ? "
            "AND database_name = current_database()",
            [self.schema_name],
        )
        return [(child, parent) for child, parent in rows]

    # ----------------------------------------------------------------- steps

    def begin(self) -> None:
        self.run("starting a transaction", ["BEGIN TRANSACTION"])

    def prepare(self) -> None:
        ddl = self.ddl
        if self.plan.schema:
            self.run(
                "creating the schema",
                [f"CREATE SCHEMA IF NOT EXISTS {ddl.quote(self.plan.schema)}"],
            )
        if self.plan.mode == "replace" and self.existing:
            self._drop_tables(sorted(self.existing))
            self.run(
                "dropping old sequences",
                [
                    f"DROP SEQUENCE IF EXISTS {ddl.qualify(ddl.sequence_name(table, column))}"
                    for table, column in self._identities(self.new_tables)
                ],
            )
        self.create_enums()
        for name in self.plan.order:
            table = self.plan.table(name)
            self.run(
                f"staging table {name}",
                [ddl.staging_table(table, self.columns[name], self.stages[name])],
            )

    def _drop_tables(self, names: list[str]) -> None:
        """Drop ``names``, children before parents, as DuckDB requires."""
        remaining = set(names)
        pairs = [pair for pair in self.foreign_key_pairs() if pair[0] != pair[1]]
        while remaining:
            referenced = {parent for child, parent in pairs if child in remaining}
            ready = sorted(remaining - referenced) or sorted(remaining)
            for name in ready:
                self.run(f"dropping table {name}", [f"DROP TABLE {self.ddl.qualify(name)}"])
                remaining.discard(name)

    def _identities(self, tables: list[str]) -> list[tuple[str, str]]:
        return [
            (name, column.name)
            for name in tables
            for column in self.plan.table(name).columns.values()
            if self.ddl.is_identity(column) and not column.generated
        ]

    def load(self, table: str, frame: pd.DataFrame) -> int:
        frame, columns = self.frame_for_load(table, frame)
        if frame.empty or not columns:
            return len(frame)
        self.step = f"loading table {table}"
        view = f"hsa_batch_{uuid_module.uuid4().hex[:8]}"
        scanned = duckdb_frame(frame, columns, self.sql_types(table, columns))
        self.connection.register(view, scanned)
        try:
            self.execute(
                f"INSERT INTO {self.ddl.quote(self.stages[table])} ({self.ddl.columns(columns)}) "
                f"SELECT {self.ddl.columns(columns)} FROM {self.ddl.quote(view)}"
            )
        finally:
            self.connection.unregister(view)
        self.loaded[table].update(columns)
        return len(frame)

    def finish(self) -> None:
        ddl = self.ddl
        kept = self.kept_tables
        ddl.available.update(kept)
        if self.plan.mode == "truncate" and kept:
            self._empty(kept)
        for table, column in self._identities(self.new_tables):
            start = self._max_staged(table, column) + 1
            self.run(
                f"creating the sequence of {table}.{column}",
                [ddl.create_sequence(table, column, start)],
            )
        for name in self.new_tables:
            self.run(f"creating table {name}", [ddl.create_table(self.plan.table(name), keys=True)])
            self.created.append(name)

        for name in self.plan.order:
            self._insert_staged(name)
        for name in self.new_tables:
            self.run(
                f"creating the indexes of table {name}", ddl.index_statements(self.plan.table(name))
            )
        for name in kept:
            self._advance_sequences(name)
        self.run(
            "dropping the staging tables",
            [f"DROP TABLE {ddl.quote(stage)}" for stage in self.stages.values()],
        )

    def _empty(self, kept: list[str]) -> None:
        """Empty the kept tables. DuckDB refuses to delete parent rows whose children were
        deleted in the same transaction, so tables joined by foreign keys are dropped and
        created again from their own definition (with their indexes) instead."""
        pairs = self.foreign_key_pairs()
        linked = {name for pair in pairs for name in pair if name in kept}
        definitions = self.query(
            "SELECT table_name, sql FROM duckdb_tables() WHERE schema_name = ? "
            "AND database_name = current_database()",
            [self.schema_name],
        )
        indexes = self.query(
            "SELECT table_name, sql FROM duckdb_indexes() WHERE schema_name = ? "
            "AND database_name = current_database() AND sql IS NOT NULL",
            [self.schema_name],
        )
        self._drop_tables(sorted(linked))
        for name in self.plan.order:
            if name in linked:
                self.run(
                    f"emptying table {name}", [sql for table, sql in definitions if table == name]
                )
                self.run(f"emptying table {name}", [sql for table, sql in indexes if table == name])
            elif name in kept:
                self.run(f"emptying table {name}", [f"DELETE FROM {self.ddl.qualify(name)}"])

    def _max_staged(self, table: str, column: str) -> int:
        if column not in self.loaded[table]:
            return 0
        value = self.query(
            f"SELECT MAX({self.ddl.quote(column)}) FROM {self.ddl.quote(self.stages[table])}"
        )[0][0]
        return int(value) if value is not None else 0

    def _insert_staged(self, name: str) -> None:
        """Move the staged rows of ``name`` into the real table."""
        columns = [column for column in self.columns[name] if column in self.loaded[name]]
        if not columns:
            return
        self.step = f"loading table {name}"
        target = self.ddl.qualify(name)
        stage = self.ddl.quote(self.stages[name])
        listed = self.ddl.columns(columns)
        self_references = [
            rel
            for rel in self.plan.metadata.self_references()
            if rel.child_table == name and set(rel.child_columns) <= set(columns)
        ]
        if not self_references:
            self.execute(f"INSERT INTO {target} ({listed}) SELECT {listed} FROM {stage}")
            return
        self._insert_in_rounds(name, columns, self_references)

    def _insert_in_rounds(self, name: str, columns: list[str], rels: list[Relationship]) -> None:
        """Insert a self-referencing table one generation at a time, roots first."""
        ddl = self.ddl
        target, listed = ddl.qualify(name), ddl.columns(columns)
        pending = ddl.quote(f"{self.stages[name]}_pending")
        ready = ddl.quote(f"{self.stages[name]}_ready")
        self.execute(
            f"CREATE TEMPORARY TABLE {pending} AS SELECT row_number() OVER () AS hsa_row, "
            f"{listed} FROM {ddl.quote(self.stages[name])}"
        )
        conditions = " AND ".join(self._parent_present(rel, target) for rel in rels)
        while self.query(f"SELECT count(*) FROM {pending}")[0][0]:
            self.execute(
                f"CREATE OR REPLACE TEMPORARY TABLE {ready} AS "
                f"SELECT hsa_row FROM {pending} s WHERE {conditions}"
            )
            if not self.query(f"SELECT count(*) FROM {ready}")[0][0]:
                raise WriteError(
                    f"rows of table {name} reference rows of {name} that are missing or that "
                    "reference each other in a loop; fix the self-referencing keys in the data"
                )
            chosen = f"hsa_row IN (SELECT hsa_row FROM {ready})"
            self.execute(
                f"INSERT INTO {target} ({listed}) SELECT {listed} FROM {pending} WHERE {chosen}"
            )
            self.execute(f"DELETE FROM {pending} WHERE {chosen}")
        self.execute(f"DROP TABLE {pending}")
        self.execute(f"DROP TABLE IF EXISTS {ready}")

    def _parent_present(self, rel: Relationship, target: str) -> str:
        """SQL that holds for a staged row whose self-referenced parent row is already in."""
        quote = self.ddl.quote
        null = " OR ".join(f"s.{quote(column)} IS NULL" for column in rel.child_columns)
        joined = " AND ".join(
            f"p.{quote(parent)} = s.{quote(child)}"
            for parent, child in zip(rel.parent_columns, rel.child_columns, strict=True)
        )
        return f"({null} OR EXISTS (SELECT 1 FROM {target} p WHERE {joined}))"

    def _advance_sequences(self, table: str) -> None:
        """Move the sequences behind ``nextval`` defaults of a kept table past its largest key;
        DuckDB sequences only move forwards, by drawing values."""
        self.step = f"moving the sequences of table {table}"
        rows = self.query(
            "SELECT column_name, column_default FROM duckdb_columns() WHERE schema_name = ? "
            "AND table_name = ? AND database_name = current_database() "
            "AND column_default LIKE 'nextval(%'",
            [self.schema_name, table],
        )
        for column, default in rows:
            match = re.match(r"nextval\('(.+)'\)", default)
            if match is None:
                continue
            sequence = match.group(1).replace("''", "'")
            largest = self.max_value(table, column)
            drawn = self._sequence_position(sequence)
            if largest > drawn:
                draw = f"nextval({self.ddl.literal(sequence)})"
                self.execute(f"SELECT max({draw}) FROM range({largest - drawn})")

    def _sequence_position(self, sequence: str) -> int:
        """The last value a sequence handed out (its start minus one if it handed out none)."""
        name = sequence.split(".")[-1].strip('"')
        rows = self.query(
            "SELECT last_value, start_value FROM duckdb_sequences() WHERE sequence_name = ? "
            "AND database_name = current_database()",
            [name],
        )
        if not rows:
            return 0
        last, start = rows[0]
        return int(last) if last is not None else int(start) - 1

    def commit(self) -> None:
        self.run("committing", ["COMMIT"])

    def abort(self) -> str:
        try:
            self.execute("ROLLBACK")
        except Exception:
            log.debug("rollback failed; closing the connection instead", exc_info=True)
            self.fairy.invalidate()
        return "the target is unchanged"


def duckdb_frame(frame: pd.DataFrame, columns: list[str], sql_types: list[SqlType]) -> pd.DataFrame:
    """The columns of ``frame`` in a form DuckDB scans without guessing: exact decimals as text,
    JSON as text, arrays as lists, UUIDs as text."""
    out: dict[str, Any] = {}
    for name, sql_type in zip(columns, sql_types, strict=True):
        series = frame[name]
        base = sql_type.base
        if sql_type.array:
            out[name] = _map(series, array_list)
        elif base == "json":
            out[name] = _map(series, json_text)
        elif (
            base in ("numeric", "uuid", "enum", "char", "varchar", "text")
            and series.dtype == object
        ):
            out[name] = _map(series, str)
        elif base == "interval" and series.dtype == object:
            out[name] = pd.to_timedelta(series)
        elif base == "timestamptz" and not isinstance(series.dtype, pd.DatetimeTZDtype):
            out[name] = pd.to_datetime(series, utc=True)
        else:
            out[name] = series
    return pd.DataFrame(out, index=frame.index)


def _map(series: pd.Series, function: Any) -> pd.Series:
    missing = series.isna().to_numpy()
    pairs = zip(series.tolist(), missing, strict=True)
    values = [None if gap else function(value) for value, gap in pairs]
    return pd.Series(values, index=series.index, dtype=object)
