"""MySQL/MariaDB: DDL commits at once there, so a write cannot be one transaction.

New tables are created with their primary key and AUTO_INCREMENT (InnoDB keeps rows in key
order, so adding the key later would rebuild the table), loaded, then given their unique keys
and indexes in one ALTER TABLE each, then their foreign keys, which MariaDB checks against the
rows.
If anything fails the tables this write created are dropped. Rows loaded into kept tables
(``truncate``, ``append``) are ordinary DML in one transaction, with the foreign keys checked
by queries before it commits, so those tables are left as they were on failure too.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pandas as pd

from hsa_db.errors import WriteError
from hsa_db.metadata import Column, Relationship, Table
from hsa_db.write.ddl import (
    Ddl,
    SqlType,
    column_sql_type,
    foreign_keys,
    short_name,
    unique_keys,
)
from hsa_db.write.load import frame_columns, insert_literal_rows
from hsa_db.write.target import UNCHANGED, Target
from hsa_db.write.values import mysql_literal, mysql_shape

log = logging.getLogger(__name__)

_TYPES = {
    "boolean": "BOOLEAN",
    "smallint": "SMALLINT",
    "integer": "INT",
    "bigint": "BIGINT",
    "real": "FLOAT",
    "double": "DOUBLE",
    "date": "DATE",
    "time": "TIME(6)",
    "timestamp": "DATETIME(6)",
    "timestamptz": "DATETIME(6)",
    "interval": "BIGINT",
    "json": "JSON",
}

#: Length of a text column that is part of a key: InnoDB cannot index LONGTEXT.
KEY_TEXT_LENGTH = 255
_COMMENTS = {
    "interval": "interval in microseconds",
    "timestamptz": "timestamp with time zone, stored in UTC",
}


class MysqlDdl(Ddl):
    """MySQL/MariaDB DDL: arrays as JSON, enums inline, text keys as VARCHAR(255)."""

    dialect = "mysql"
    name_limit: ClassVar[int] = 64
    quote_char: ClassVar[str] = "`"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.native_uuid = False
        self.key_columns = _key_columns(self.metadata.tables.values(), foreign_keys(self.metadata))

    def literal(self, text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"

    def type_sql(self, table: Table, column: Column) -> str:
        sql_type = column_sql_type(column)
        base, args = sql_type.base, sql_type.args
        keyed = (table.name, column.name) in self.key_columns
        if sql_type.array:
            return "JSON"
        if base == "enum":
            return f"ENUM({', '.join(self.literal(label) for label in column.enum_values or [])})"
        if base == "numeric":
            precision, scale = (args + (0,))[:2] if args else (65, 30)
            return f"DECIMAL({min(precision, 65)}, {min(scale, 30)})"
        if base in ("char", "varchar", "text"):
            return self.text_sql(base, args, keyed)
        if base == "uuid":
            return "UUID" if self.native_uuid else "CHAR(36)"
        if base == "binary":
            return f"VARBINARY({KEY_TEXT_LENGTH})" if keyed else "LONGBLOB"
        return _TYPES[base]

    @staticmethod
    def text_sql(base: str, args: tuple[int, ...], keyed: bool) -> str:
        length = args[0] if args else None
        if base == "char" and (length or 1) <= 255:
            return f"CHAR({length or 1})"
        if length is not None and length <= 16383:
            return f"VARCHAR({length})"
        return f"VARCHAR({KEY_TEXT_LENGTH})" if keyed else "LONGTEXT"

    def column_extras(self, table: Table, column: Column) -> list[str]:
        comment = _COMMENTS.get(column_sql_type(column).base)
        return [f"COMMENT {self.literal(comment)}"] if comment and not column.generated else []

    def boolean_literal(self, value: bool) -> str:
        return "1" if value else "0"

    def default_sql(self, table: Table, column: Column) -> str | None:
        """Defaults of TEXT, BLOB and JSON columns in parentheses, as MySQL 8 requires."""
        default = super().default_sql(table, column)
        large = self.type_sql(table, column) in ("LONGTEXT", "LONGBLOB", "JSON")
        if default is not None and large and not default.startswith("("):
            return f"({default})"
        return default

    def function_default(self, name: str, sql_type: SqlType) -> str | None:
        if name == "uuid":
            return "(uuid())" if sql_type.base in ("uuid", "char", "varchar", "text") else None
        return f"({name.upper()})" if name != "current_timestamp" else "CURRENT_TIMESTAMP"

    def empty_array_default(self) -> str:
        return "'[]'"

    def generated_sql(self, column: Column) -> str:
        return f"AS ({self.expression(column.generated or '')}) STORED"

    def expression(self, text: str) -> str:
        text = super().expression(text)
        return "".join(
            f"`{part}`" if index % 2 else part for index, part in enumerate(text.split('"'))
        )

    def table_options(self) -> str:
        return " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

    def table_clauses(self, table: Table, keys: bool) -> list[str]:
        """The primary key, declared at once: InnoDB stores rows in its order, so adding it
        later would rebuild the table, and an AUTO_INCREMENT column must lead a key."""
        clauses = []
        if table.primary_key:
            clauses.append(f"PRIMARY KEY ({self.columns(table.primary_key)})")
        counter = self.auto_increment_column(table)
        if counter is not None and table.primary_key[:1] != [counter.name]:
            clauses.append(f"KEY ({self.quote(counter.name)})")
        return clauses

    def identity_sql(self, table: Table, column: Column) -> list[str]:
        counter = self.auto_increment_column(table)
        return ["AUTO_INCREMENT"] if counter is not None and counter.name == column.name else []

    def auto_increment_column(self, table: Table) -> Column | None:
        """The identity column MySQL numbers itself: the first one (it allows only one)."""
        identities = [c for c in table.columns.values() if self.is_identity(c) and not c.generated]
        if len(identities) > 1:
            self.warn(
                f"MySQL allows one AUTO_INCREMENT column; {table.name}.{identities[0].name} "
                "got it, the others are plain integers"
            )
        return identities[0] if identities else None

    def table_alter(self, table: Table) -> str | None:
        """One ALTER TABLE that adds the unique keys and indexes of ``table`` after the load."""
        clauses = []
        for key in unique_keys(table):
            name = short_name(table.name, *key, suffix="key", limit=self.name_limit)
            clauses.append(f"ADD CONSTRAINT {self.quote(name)} UNIQUE ({self.columns(key)})")
        for index in self.indexes_to_create(table):
            spec = self.index_spec(table, index)
            if spec is not None:
                name, columns, unique = spec
                kind = "UNIQUE INDEX" if unique else "INDEX"
                clauses.append(f"ADD {kind} {self.quote(name)} ({self.columns(columns)})")
        if not clauses:
            return None
        return f"ALTER TABLE {self.qualify(table.name)} " + ", ".join(clauses)

    def foreign_key_alter(self, child: str, rels: list[Relationship]) -> str:
        clauses = ", ".join(f"ADD {self.foreign_key_clause(rel)}" for rel in rels)
        return f"ALTER TABLE {self.qualify(child)} {clauses}"

    def key_statements(self, tables: list[Table]) -> list[str]:
        return [sql for table in tables if (sql := self.table_alter(table))]

    def index_statements(self, table: Table) -> list[str]:
        return []  # part of table_alter, so that a table is rebuilt once


def _key_columns(tables: Any, rels: list[Relationship]) -> set[tuple[str, str]]:
    """(table, column) pairs that are part of a key or index, which need indexable types."""
    found: set[tuple[str, str]] = set()
    for table in tables:
        keys = [table.primary_key, *table.unique_constraints]
        keys.extend(index.get("columns") or [] for index in table.indexes)
        found.update((table.name, column) for key in keys for column in key)
    for rel in rels:
        found.update((rel.child_table, column) for column in rel.child_columns)
        found.update((rel.parent_table, column) for column in rel.parent_columns)
    return found


class MysqlTarget(Target):
    """Bare tables, multi-row INSERTs, then one ALTER per table; undone by dropping on failure."""

    dialect = "mysql"
    ddl_class = MysqlDdl

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ddl: MysqlDdl
        version = self.query("SELECT VERSION()")[0][0]
        self.ddl.native_uuid = _mariadb_with_uuid(version)
        self.execute(
            "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,"
            "NO_AUTO_VALUE_ON_ZERO'"
        )
        self.execute("SET SESSION time_zone = '+00:00'")
        self.schema_name = self.plan.schema or self.query("SELECT DATABASE()")[0][0]
        if self.schema_name is None:
            raise WriteError(
                f"{self.location.masked()} names no database; add one to the URL "
                "(mysql://user@host/db) or give a target schema"
            )
        self.created_schema = False
        self.dropped: list[str] = []
        self.committed = False

    def table_names(self) -> set[str]:
        rows = self.query(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
            [self.schema_name],
        )
        return {row[0] for row in rows}

    def generated_columns(self, table: str) -> dict[str, bool]:
        rows = self.query(
            "SELECT COLUMN_NAME, EXTRA FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            [self.schema_name, table],
        )
        generated = ("VIRTUAL", "STORED", "PERSISTENT")
        return {name: any(word in extra.upper() for word in generated) for name, extra in rows}

    # ----------------------------------------------------------------- steps

    def prepare(self) -> None:
        ddl = self.ddl
        if self.plan.schema and not self.query(
            "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [self.plan.schema]
        ):
            self.run("creating the database", [f"CREATE DATABASE {ddl.quote(self.plan.schema)}"])
            self.created_schema = True
        self.execute("SET SESSION FOREIGN_KEY_CHECKS = 0")
        if self.plan.mode == "replace" and self.existing:
            names = ", ".join(ddl.qualify(name) for name in sorted(self.existing))
            self.run("dropping the existing tables", [f"DROP TABLE IF EXISTS {names}"])
            self.dropped = sorted(self.existing)

        for name in self.new_tables:
            self.run(
                f"creating table {name}", [ddl.create_table(self.plan.table(name), keys=False)]
            )
            self.created.append(name)
        self.connection.begin()
        if self.plan.mode == "truncate":
            for name in reversed(self.kept_tables):
                self.run(f"emptying table {name}", [f"DELETE FROM {ddl.qualify(name)}"])

    def load(self, table: str, frame: pd.DataFrame) -> int:
        frame, columns = self.frame_for_load(table, frame)
        if frame.empty or not columns:
            return len(frame)
        self.step = f"loading table {table}"
        shapes = [mysql_shape(sql_type) for sql_type in self.sql_types(table, columns)]
        literals = frame_columns(frame, columns, shapes, mysql_literal)
        prefix = f"INSERT INTO {self.ddl.qualify(table)} ({self.ddl.columns(columns)}) VALUES "
        with self.connection.cursor() as cursor:
            insert_literal_rows(cursor, prefix, literals)
        return len(frame)

    def finish(self) -> None:
        if self.kept_tables:
            self._check_before_commit()
        self.step = "committing the rows"
        self.connection.commit()
        self.committed = bool(self.kept_tables)

        self.execute("SET SESSION FOREIGN_KEY_CHECKS = 1")
        for name in self.new_tables:
            statement = self.ddl.table_alter(self.plan.table(name))
            if statement:
                self.run(f"adding keys and indexes to table {name}", [statement])
        by_child: dict[str, list[Relationship]] = {}
        for rel in self.new_foreign_keys():
            by_child.setdefault(rel.child_table, []).append(rel)
        for child, rels in by_child.items():
            self.run(
                f"adding the foreign keys of table {child}",
                [self.ddl.foreign_key_alter(child, rels)],
            )

    def _check_before_commit(self) -> None:
        """With foreign key checks off during the load, check the keys by query, so that a
        violation rolls the kept tables back instead of being committed."""
        self.step = "checking foreign keys"
        for child, columns, parent, parent_columns in self._foreign_keys_to_check():
            dangling = self._dangling(child, columns, parent, parent_columns)
            if dangling:
                raise WriteError(
                    f"{dangling} rows of table {child} have a foreign key ({', '.join(columns)}) "
                    f"with no matching row in {parent}; fix the data or the relationships"
                )
        self.step = "checking unique keys"
        for name in self.new_tables:
            table = self.plan.table(name)
            for key in unique_keys(table):  # the primary key is enforced already
                if self._duplicated(name, key):
                    raise WriteError(
                        f"table {name} has repeated values of key ({', '.join(key)}); "
                        "fix the data or the key in the metadata"
                    )

    def _foreign_keys_to_check(self) -> list[tuple[str, list[str], str, list[str]]]:
        ours = set(self.plan.order)
        rows = self.query(
            "SELECT CONSTRAINT_NAME, TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, "
            "REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
            "WHERE TABLE_SCHEMA = %s AND REFERENCED_TABLE_SCHEMA = %s "
            "AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION",
            [self.schema_name, self.schema_name],
        )
        declared: dict[tuple[str, str], tuple[str, list[str], str, list[str]]] = {}
        for name, child, column, parent, parent_column in rows:
            if child in ours or parent in ours:
                entry = declared.setdefault((child, name), (child, [], parent, []))
                entry[1].append(column)
                entry[3].append(parent_column)
        checks = list(declared.values())
        checks.extend(
            (rel.child_table, rel.child_columns, rel.parent_table, rel.parent_columns)
            for rel in self.new_foreign_keys()
        )
        return checks

    def _dangling(self, child: str, columns: list[str], parent: str, parents: list[str]) -> int:
        quote, qualify = self.ddl.quote, self.ddl.qualify
        present = " AND ".join(f"c.{quote(column)} IS NOT NULL" for column in columns)
        pairs = zip(parents, columns, strict=True)
        joined = " AND ".join(f"p.{quote(p)} = c.{quote(c)}" for p, c in pairs)
        sql = (
            f"SELECT COUNT(*) FROM {qualify(child)} c WHERE {present} AND NOT EXISTS "
            f"(SELECT 1 FROM {qualify(parent)} p WHERE {joined})"
        )
        return int(self.query(sql)[0][0])

    def _duplicated(self, table: str, key: list[str]) -> bool:
        columns = self.ddl.columns(key)
        present = " AND ".join(f"{self.ddl.quote(column)} IS NOT NULL" for column in key)
        sql = (
            f"SELECT 1 FROM {self.ddl.qualify(table)} WHERE {present} "
            f"GROUP BY {columns} HAVING COUNT(*) > 1 LIMIT 1"
        )
        return bool(self.query(sql))

    def commit(self) -> None:
        """Nothing left to commit: :meth:`finish` committed the rows before the DDL."""

    def abort(self) -> str:
        """Roll back the rows, drop what this write created, and say what is left."""
        connection = self.connection
        try:
            connection.rollback()
        except Exception:
            log.debug("rollback failed; cleaning up through a new connection", exc_info=True)
            self.fairy.invalidate()
            self.fairy = self.engine.raw_connection()
            self.connection = self.fairy.driver_connection

        leftovers = self._drop_created()
        return self._what_is_left(leftovers)

    def _drop_created(self) -> list[str]:
        """Drop the tables (and database) this write created; return those that remain."""
        try:
            self.execute("SET SESSION FOREIGN_KEY_CHECKS = 0")
            if self.created:
                names = ", ".join(self.ddl.qualify(name) for name in self.created)
                self.execute(f"DROP TABLE IF EXISTS {names}")
            if self.created_schema:
                self.execute(f"DROP DATABASE IF EXISTS {self.ddl.quote(self.schema_name)}")
        except Exception:
            log.warning("could not drop the tables this write created", exc_info=True)
            return list(self.created)
        return []

    def _what_is_left(self, leftovers: list[str]) -> str:
        parts = []
        if leftovers:
            names = ", ".join(self.ddl.qualify(name) for name in leftovers)
            parts.append(
                f"tables {', '.join(leftovers)} are left half-written; remove them with "
                f"DROP TABLE {names}"
            )
        if self.dropped:
            parts.append(
                f"tables {', '.join(self.dropped)} were dropped before the failure "
                "(MySQL/MariaDB cannot roll back DDL); write them again"
            )
        if self.committed:
            verb = "emptied and loaded" if self.plan.mode == "truncate" else "loaded"
            parts.append(
                f"tables {', '.join(self.kept_tables)} were {verb} and committed before "
                "the failure; run the write again with if_exists='truncate'"
            )
        return "; ".join(parts) if parts else UNCHANGED


def _mariadb_with_uuid(version: str) -> bool:
    """Whether the server is MariaDB 10.7 or later, which has a native UUID type."""
    if "mariadb" not in version.lower():
        return False
    try:
        major, minor = (int(part) for part in version.split("-")[0].split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (10, 7)
