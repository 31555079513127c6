"""Target DDL: neutral ``sql_type`` names and defaults turned into each dialect's CREATE
statements, constraints and indexes.

:class:`Ddl` holds what the four dialects share; each dialect module subclasses it with its own
type names and quirks. Nothing here talks to a database, so the same objects also produce the
DDL text of a dry run.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import ClassVar

from hsa_db.metadata import Column, Metadata, Relationship, Table

log = logging.getLogger(__name__)

#: Neutral type names and the spellings of them that reflected schemas use.
TYPE_ALIASES = {
    "bool": "boolean",
    "int2": "smallint",
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "decimal": "numeric",
    "float4": "real",
    "float": "double",
    "float8": "double",
    "double precision": "double",
    "character": "char",
    "character varying": "varchar",
    "string": "text",
    "datetime": "timestamp",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "time without time zone": "time",
    "jsonb": "json",
    "bytea": "binary",
    "blob": "binary",
}

NEUTRAL_TYPES = frozenset(
    {
        "boolean",
        "smallint",
        "integer",
        "bigint",
        "numeric",
        "real",
        "double",
        "char",
        "varchar",
        "text",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "interval",
        "uuid",
        "json",
        "binary",
        "enum",
    }
)

INTEGER_TYPES = frozenset({"smallint", "integer", "bigint"})

#: Default expressions every target understands, by the neutral name they are known under.
_DEFAULT_FUNCTIONS = {
    "now()": "current_timestamp",
    "current_timestamp": "current_timestamp",
    "current_timestamp()": "current_timestamp",
    "localtimestamp": "current_timestamp",
    "localtimestamp()": "current_timestamp",
    "transaction_timestamp()": "current_timestamp",
    "statement_timestamp()": "current_timestamp",
    "clock_timestamp()": "current_timestamp",
    "getdate()": "current_timestamp",
    "datetime('now')": "current_timestamp",
    "current_date": "current_date",
    "current_date()": "current_date",
    "curdate()": "current_date",
    "date('now')": "current_date",
    "current_time": "current_time",
    "current_time()": "current_time",
    "curtime()": "current_time",
    "gen_random_uuid()": "uuid",
    "uuid()": "uuid",
    "uuid_generate_v4()": "uuid",
}

_CAST_BODY = (
    r"::\s*(\"[^\"]+\"|[a-z_][\w.]*)(\s+(varying|precision|with(out)?\s+time\s+zone))?"
    r"(\s*\(\d+(,\s*\d+)?\))?(\[\])*"
)
_CAST = re.compile(r"\s*" + _CAST_BODY + r"\s*$", re.IGNORECASE)
_ANY_CAST = re.compile(_CAST_BODY, re.IGNORECASE)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_STRING = re.compile(r"^'((?:[^']|'')*)'$", re.DOTALL)
_TYPE = re.compile(r"^([a-z][a-z0-9 _]*?)\s*(\((\s*\d+\s*(,\s*-?\d+\s*)?)\))?$")


@dataclass(frozen=True)
class SqlType:
    """A parsed neutral type: ``numeric(10,2)[]`` is ``SqlType("numeric", (10, 2), True)``."""

    base: str
    args: tuple[int, ...] = ()
    array: bool = False

    @property
    def element(self) -> SqlType:
        return SqlType(self.base, self.args)


def parse_sql_type(text: str) -> SqlType:
    """Parse a neutral type name; unknown names become ``text`` so that values still load."""
    raw = text.strip().lower()
    array = raw.endswith("[]")
    while raw.endswith("[]"):
        raw = raw[:-2].strip()
    match = _TYPE.match(raw)
    if match is None:
        log.debug("unknown sql_type %r written as text", text)
        return SqlType("text", (), array)

    base = TYPE_ALIASES.get(match.group(1).strip(), match.group(1).strip())
    args = tuple(int(part) for part in match.group(3).split(",")) if match.group(3) else ()
    if base not in NEUTRAL_TYPES:
        log.debug("unknown sql_type %r written as text", text)
        return SqlType("text", (), array)
    return SqlType(base, args, array)


def column_sql_type(column: Column) -> SqlType:
    """The parsed type of a column whose ``sql_type`` has been resolved."""
    return parse_sql_type(column.sql_type or "text")


@dataclass(frozen=True)
class EnumType:
    """A named enumeration shared by the columns that use it."""

    name: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Default:
    """A translated column default: a literal, a known function, or an identity marker."""

    kind: str  # "literal", "function", "identity" or "boolean"
    value: str = ""


def parse_default(text: str | None) -> Default | None:
    """Understand a reflected default expression; ``None`` when it is absent or not portable."""
    if text is None:
        return None
    expression = text.strip()
    while True:
        stripped = _CAST.sub("", expression).strip()
        if stripped.startswith("(") and stripped.endswith(")") and _balanced(stripped[1:-1]):
            stripped = stripped[1:-1].strip()
        if stripped == expression:
            break
        expression = stripped

    lowered = expression.lower()
    if lowered in ("", "null"):
        return None
    if lowered.startswith("nextval("):
        return Default("identity")
    if lowered in ("true", "false"):
        return Default("boolean", lowered)
    if _NUMBER.match(expression):
        return Default("literal", expression)
    string = _STRING.match(expression)
    if string:
        return Default("literal", string.group(1).replace("''", "'"))
    function = re.sub(r"\(\s*\d*\s*\)$", "()", lowered)
    for candidate in (lowered, function):
        if candidate in _DEFAULT_FUNCTIONS:
            return Default("function", _DEFAULT_FUNCTIONS[candidate])
    return Default("unknown", text)


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def short_name(*parts: str, suffix: str, limit: int) -> str:
    """A constraint or index name built from ``parts``, shortened with a hash to fit ``limit``."""
    name = "_".join([*parts, suffix])
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{name[: limit - len(suffix) - 10]}_{digest}_{suffix}"


class Ddl:
    """DDL text for one dialect and one target schema; subclasses supply the type names."""

    dialect: ClassVar[str] = ""
    name_limit: ClassVar[int] = 63
    #: Whether keys must be declared in CREATE TABLE (SQLite, DuckDB) rather than added later.
    inline_keys: ClassVar[bool] = False
    quote_char: ClassVar[str] = '"'

    def __init__(self, metadata: Metadata, schema: str | None = None) -> None:
        self.metadata = metadata
        self.schema = schema
        self.warnings: list[str] = []
        self.names: dict[tuple[str, ...], str] = {}

    # ----------------------------------------------------------------- names

    def quote(self, name: str) -> str:
        char = self.quote_char
        return f"{char}{name.replace(char, char * 2)}{char}"

    def qualify(self, name: str) -> str:
        """``name`` quoted and prefixed with the target schema, if one was given."""
        if self.schema:
            return f"{self.quote(self.schema)}.{self.quote(name)}"
        return self.quote(name)

    def columns(self, names: list[str]) -> str:
        return ", ".join(self.quote(name) for name in names)

    def literal(self, text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def warn(self, message: str) -> None:
        log.warning(message)
        if message not in self.warnings:
            self.warnings.append(message)

    # ----------------------------------------------------------------- types

    def type_sql(self, table: Table, column: Column) -> str:
        """The target type of ``column``."""
        raise NotImplementedError

    def enum_types(self) -> list[EnumType]:
        """Named enumerations of the metadata (the union of labels where a name is shared)."""
        found: dict[str, list[str]] = {}
        for table in self.metadata.tables.values():
            for column in table.columns.values():
                if column_sql_type(column).base != "enum":
                    continue
                labels = found.setdefault(enum_name(table, column), [])
                labels.extend(label for label in column.enum_values or [] if label not in labels)
        return [EnumType(name, tuple(labels)) for name, labels in found.items()]

    def create_enum(self, enum: EnumType) -> str | None:
        """CREATE TYPE for a named enumeration, where the dialect has them."""
        return None

    # ----------------------------------------------------------------- columns

    def default_sql(self, table: Table, column: Column) -> str | None:
        """The DEFAULT clause body for ``column``, or ``None`` when it has none or it is dropped."""
        default = parse_default(column.default)
        if default is None or default.kind == "identity":
            return None
        sql_type = column_sql_type(column)
        rendered = self.render_default(default, sql_type)
        if rendered is None:
            self.warn(
                f"default {column.default!r} of {table.name}.{column.name} has no {self.dialect} "
                "equivalent and was left out"
            )
        return rendered

    def render_default(self, default: Default, sql_type: SqlType) -> str | None:
        """A parsed default in this dialect's words, or ``None`` when it cannot be said."""
        if sql_type.base == "boolean" and not sql_type.array and default.kind == "literal":
            truth = default.value.lower() in ("t", "true", "1", "y", "yes", "on")
            default = Default("boolean", "true" if truth else "false")
        if default.kind == "boolean":
            return self.boolean_literal(default.value == "true")
        if default.kind == "literal":
            if sql_type.array:
                return self.empty_array_default() if default.value in ("{}", "[]") else None
            if _NUMBER.match(default.value) and sql_type.base not in ("text", "varchar", "char"):
                return default.value
            return self.literal(default.value)
        if default.kind == "function":
            name = default.value
            if name == "current_timestamp" and sql_type.base == "date":
                name = "current_date"
            return self.function_default(name, sql_type)
        return None

    def boolean_literal(self, value: bool) -> str:
        return "TRUE" if value else "FALSE"

    def empty_array_default(self) -> str | None:
        return self.literal("[]")

    def function_default(self, name: str, sql_type: SqlType) -> str | None:
        if name == "uuid":
            return None
        return name.upper()

    def is_identity(self, column: Column) -> bool:
        """Whether the target should number this column itself (identity, serial)."""
        default = parse_default(column.default)
        integer = (
            column_sql_type(column).base in INTEGER_TYPES and not column_sql_type(column).array
        )
        return integer and (column.identity or (default is not None and default.kind == "identity"))

    def generated_sql(self, column: Column) -> str:
        """The generation clause of a generated column."""
        return f"GENERATED ALWAYS AS ({self.expression(column.generated or '')}) STORED"

    def expression(self, text: str) -> str:
        """A generation expression in this dialect's quoting, PostgreSQL casts removed."""
        text = _ANY_CAST.sub("", text)
        return re.sub(r"`([^`]*)`", lambda match: self.quote(match.group(1)), text)

    def column_sql(self, table: Table, column: Column) -> str:
        """A column definition: name, type, NOT NULL, default or generation, identity."""
        parts = [self.quote(column.name), self.type_sql(table, column)]
        if column.generated:
            parts.append(self.generated_sql(column))
        elif self.is_identity(column):
            parts.extend(self.identity_sql(table, column))
        else:
            default = self.default_sql(table, column)
            if default is not None:
                parts.append(f"DEFAULT {default}")
        if not column.nullable and not (column.generated and self.dialect == "mysql"):
            parts.append("NOT NULL")
        parts.extend(self.column_extras(table, column))
        return " ".join(parts)

    def identity_sql(self, table: Table, column: Column) -> list[str]:
        """Words that make the target number ``column`` itself (empty where added later)."""
        return []

    def column_extras(self, table: Table, column: Column) -> list[str]:
        """Dialect-specific trailing words of a column definition (comments, checks)."""
        return []

    # ----------------------------------------------------------------- tables

    def create_table(self, table: Table, keys: bool) -> str:
        """CREATE TABLE; with ``keys`` the keys are declared inline (SQLite, DuckDB)."""
        lines = [self.column_sql(table, column) for column in table.columns.values()]
        lines.extend(self.table_clauses(table, keys))
        body = ",\n  ".join(lines)
        return f"CREATE TABLE {self.qualify(table.name)} (\n  {body}\n){self.table_options()}"

    def table_options(self) -> str:
        return ""

    def table_clauses(self, table: Table, keys: bool) -> list[str]:
        """Constraint clauses inside CREATE TABLE: all keys where they cannot be added later."""
        if not keys:
            return []
        clauses = self.key_clauses(table)
        clauses.extend(self.foreign_key_clause(rel) for rel in self.inline_foreign_keys(table))
        return clauses

    def key_clauses(self, table: Table) -> list[str]:
        """The primary key and unique constraints of ``table`` as table constraint clauses."""
        clauses = []
        if table.primary_key:
            name = short_name(table.name, suffix="pkey", limit=self.name_limit)
            clauses.append(
                f"CONSTRAINT {self.quote(name)} PRIMARY KEY ({self.columns(table.primary_key)})"
            )
        for key in unique_keys(table):
            name = short_name(table.name, *key, suffix="key", limit=self.name_limit)
            clauses.append(f"CONSTRAINT {self.quote(name)} UNIQUE ({self.columns(key)})")
        return clauses

    def inline_foreign_keys(self, table: Table) -> list[Relationship]:
        """Foreign keys declared inside CREATE TABLE ``table`` where keys are inline."""
        return [rel for rel in foreign_keys(self.metadata) if rel.child_table == table.name]

    def foreign_key_name(self, rel: Relationship) -> str:
        """The relationship's own name, unless another relationship already took it (MySQL and
        SQLite want foreign key names unique in the database, not just in the table)."""
        made = short_name(rel.child_table, *rel.child_columns, suffix="fkey", limit=self.name_limit)
        key = ("fkey", rel.child_table, *rel.child_columns, "->", rel.parent_table)
        return self.unique_name(key, (rel.name or made)[: self.name_limit], made)

    def unique_name(self, key: tuple[str, ...], wanted: str, fallback: str) -> str:
        """``wanted`` for the object ``key``, or ``fallback`` if another object has it."""
        if key in self.names:
            return self.names[key]
        taken = {name.lower() for name in self.names.values()}
        name = wanted if wanted.lower() not in taken else fallback
        number = 1
        while name.lower() in taken:
            number += 1
            name = f"{fallback[: self.name_limit - 4]}_{number}"
        self.names[key] = name
        return name

    def foreign_key_clause(self, rel: Relationship) -> str:
        return (
            f"CONSTRAINT {self.quote(self.foreign_key_name(rel))} FOREIGN KEY "
            f"({self.columns(rel.child_columns)}) REFERENCES {self.qualify(rel.parent_table)} "
            f"({self.columns(rel.parent_columns)})"
        )

    def add_constraint(self, table_name: str, clause: str) -> str:
        return f"ALTER TABLE {self.qualify(table_name)} ADD {clause}"

    def drop_table(self, name: str) -> str:
        return f"DROP TABLE IF EXISTS {self.qualify(name)}"

    # ----------------------------------------------------------------- indexes

    def index_spec(self, table: Table, index: dict) -> tuple[str, list[str], bool] | None:
        """Name, columns and uniqueness of one entry of ``table.indexes``, or ``None`` (with a
        warning) when it names no known columns, such as an expression index."""
        columns = [column for column in index.get("columns") or [] if column]
        missing = [column for column in columns if column not in table.columns]
        if not columns or missing:
            self.warn(
                f"index {index.get('name')!r} of {table.name} names no known columns; skipped"
            )
            return None
        made = short_name(table.name, *columns, suffix="idx", limit=self.name_limit)
        key = ("index", table.name, *columns)
        name = self.unique_name(key, (index.get("name") or made)[: self.name_limit], made)
        return name, columns, bool(index.get("unique"))

    def create_index(self, table: Table, index: dict) -> str | None:
        """CREATE INDEX for one entry of ``table.indexes``; ``None`` if it cannot be made."""
        spec = self.index_spec(table, index)
        if spec is None:
            return None
        name, columns, unique = spec
        return (
            f"CREATE {'UNIQUE ' if unique else ''}INDEX {self.quote(name)} "
            f"ON {self.qualify(table.name)} ({self.columns(columns)})"
        )

    def indexes_to_create(self, table: Table) -> list[dict]:
        """Entries of ``table.indexes`` that no primary or unique key already provides."""
        keys = [sorted(table.primary_key), *(sorted(key) for key in table.unique_constraints)]
        return [index for index in table.indexes if sorted(index.get("columns") or []) not in keys]

    # ----------------------------------------------------------------- whole schema

    def schema_statements(self) -> list[str]:
        """The DDL of an empty copy of the schema, in the order a write runs it."""
        statements = [sql for enum in self.enum_types() if (sql := self.create_enum(enum))]
        order = self.metadata.topological_order()
        tables = [self.metadata.tables[name] for name in order]
        statements.extend(self.create_table(table, keys=self.inline_keys) for table in tables)
        if not self.inline_keys:
            statements.extend(self.key_statements(tables))
            statements.extend(
                self.add_constraint(rel.child_table, self.foreign_key_clause(rel))
                for rel in foreign_keys(self.metadata)
            )
        statements.extend(sql for table in tables for sql in self.index_statements(table))
        return statements

    def key_statements(self, tables: list[Table]) -> list[str]:
        """ALTER TABLE statements that add primary and unique keys after the load."""
        return [
            self.add_constraint(table.name, clause)
            for table in tables
            for clause in self.key_clauses(table)
        ]

    def index_statements(self, table: Table) -> list[str]:
        """CREATE INDEX statements of ``table``, skipping those a key already provides."""
        statements = [self.create_index(table, index) for index in self.indexes_to_create(table)]
        return [statement for statement in statements if statement is not None]


def enum_name(table: Table, column: Column) -> str:
    """The database name of an enum column's type (made up from the column if it has none)."""
    return column.enum_name or f"{table.name}_{column.name}_enum"


def unique_keys(table: Table) -> list[list[str]]:
    """Unique constraints of ``table`` other than the primary key, without repeats."""
    seen: list[list[str]] = [sorted(table.primary_key)] if table.primary_key else []
    keys = []
    for key in table.unique_constraints:
        if key and sorted(key) not in seen:
            seen.append(sorted(key))
            keys.append(list(key))
    return keys


def foreign_keys(metadata: Metadata) -> list[Relationship]:
    """The relationships to declare as foreign keys, repeats removed."""
    seen = set()
    found = []
    for rel in metadata.relationships:
        key = (
            rel.child_table,
            tuple(rel.child_columns),
            rel.parent_table,
            tuple(rel.parent_columns),
        )
        if key not in seen:
            seen.add(key)
            found.append(rel)
    return found
