"""Live schema to :class:`~hsa_db.metadata.Metadata`.

PostgreSQL, SQLite and MySQL/MariaDB are read through SQLAlchemy's inspector, with a few
catalogue queries where it falls short (partitions, SQLite's declared types, MariaDB's JSON
columns). DuckDB is read from its own catalogue functions (``duckdb_columns()``,
``duckdb_constraints()``...), because duckdb-engine cannot reflect columns or keys with
SQLAlchemy 2. A folder of CSV/Parquet files is read as DuckDB views (see :mod:`hsa_db.files`).

After the schema, one bounded query per table samples its string columns so that
:mod:`hsa_db.sdtypes` can tell categories from free text.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SAWarning

from hsa_db import files
from hsa_db.db import Location, create_engine, mask_text, parse_location
from hsa_db.errors import DatabaseError, MetadataError
from hsa_db.metadata import Column, Metadata, Table
from hsa_db.sdtypes import detect_sdtypes, type_family

log = logging.getLogger(__name__)

#: What the public functions accept as a source: a URL or path, a parsed location, an engine.
Source = str | Path | Location | Engine
ColumnFix = Callable[[Column], None]

#: Rows sampled per table to detect sdtypes.
SAMPLE_ROWS = 1000
#: Above this estimated row count, PostgreSQL samples pages (TABLESAMPLE) instead of a prefix.
TABLESAMPLE_ABOVE_ROWS = 100_000

_SYSTEM_SCHEMAS = {
    "information_schema",
    "pg_catalog",
    "pg_toast",
    "mysql",
    "performance_schema",
    "sys",
}
_NAMES_SHOWN = 20


def reflect_metadata(
    url_or_location: Source,
    schema: str | None = None,
    tables: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> Metadata:
    """Read the tables, columns, keys and relationships of a live database.

    Args:
        url_or_location: a database URL, a ``.sqlite``/``.duckdb`` path, a folder of CSV or
            Parquet files, a parsed :class:`~hsa_db.db.Location` or an engine.
        schema: the schema to read; the database's default (``public``, ``main``, the
            MySQL database of the URL) when not given. Recorded in the metadata only if given.
        tables: only these tables.
        exclude: leave out these tables.

    Raises:
        DatabaseError: the database cannot be reached or read.
        MetadataError: an unknown schema or table was named.
    """
    where = source_name(url_or_location)
    with source_engine(url_or_location) as engine:
        try:
            with engine.connect() as connection:
                reflector = _reflector(connection, where)
                metadata = reflector.reflect(schema, _names(tables), _names(exclude))
                samples = sample_strings(connection, metadata, schema)
        except DBAPIError as error:
            raise DatabaseError(f"cannot read the schema of {where}: {first_line(error)}") from None

    detect_sdtypes(metadata, samples)
    metadata.schema = schema
    return metadata


# --------------------------------------------------------------------------- sources


def as_location(source: str | Path | Location) -> Location:
    """``source`` parsed into a :class:`Location` (a location is returned as it is)."""
    return source if isinstance(source, Location) else parse_location(str(source))


@contextmanager
def source_engine(source: Source) -> Iterator[Engine]:
    """A read-only engine on ``source``; an engine passed in is used as it is, not disposed."""
    if isinstance(source, Engine):
        yield source
        return

    location = as_location(source)
    if location.folder is not None:
        engine = files.folder_engine(location.folder)
    else:
        engine = create_engine(location, read_only=True)
    try:
        yield engine
    finally:
        engine.dispose()


def source_name(source: Source) -> str:
    """``source`` as text safe to show: passwords hidden."""
    if isinstance(source, Engine):
        return source.url.render_as_string(hide_password=True)
    if isinstance(source, Location):
        return source.masked()
    return mask_text(str(source))


def first_line(error: Exception) -> str:
    """The first line of a driver's error message, passwords hidden."""
    text = mask_text(str(getattr(error, "orig", None) or error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


def qualified_name(connection: sa.Connection | Engine, schema: str | None, table: str) -> str:
    """``schema.table`` quoted for the connection's dialect (just ``table`` without schema)."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    return f"{quote(schema)}.{quote(table)}" if schema else quote(table)


def _names(names: Iterable[str] | None) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    return [name for name in names if name] or None


def _listing(names: Iterable[str]) -> str:
    names = sorted(names)
    if not names:
        return "none"
    shown = ", ".join(names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return f"{shown} (and {more} more)" if more > 0 else shown


# --------------------------------------------------------------------------- reflectors


class BaseReflector:
    """Schema and table selection shared by every dialect; subclasses fill in the tables."""

    def __init__(self, connection: sa.Connection, where: str) -> None:
        self.connection = connection
        self.where = where

    def default_schema(self) -> str:
        """The schema used when none is named."""
        raise NotImplementedError

    def schema_names(self) -> list[str]:
        """The user schemas of the database (system schemas left out)."""
        raise NotImplementedError

    def table_names(self, schema: str) -> list[str]:
        """The base tables of ``schema``, sorted (views and partitions left out)."""
        raise NotImplementedError

    def fill(self, metadata: Metadata, schema: str) -> None:
        """Add the columns, keys, indexes and relationships of the tables in ``metadata``."""
        raise NotImplementedError

    def reflect(
        self, schema: str | None, tables: list[str] | None, exclude: list[str] | None
    ) -> Metadata:
        """Metadata of the chosen tables of ``schema``, sdtypes not yet detected."""
        schema_name = self.check_schema(schema)
        available = self.table_names(schema_name)
        chosen = select_tables(available, tables, exclude, schema_name, self.where)

        metadata = Metadata()
        for name in chosen:
            metadata.add_table(name)
        if chosen:
            self.fill(metadata, schema_name)

        for table in metadata.tables.values():
            # Primary keys are never null, though SQLite and files do not say so.
            for name in table.primary_key:
                table.columns[name].nullable = False
        return metadata

    def check_schema(self, schema: str | None) -> str:
        """``schema``, or the default one; an unknown schema is an error naming the known."""
        if schema is None:
            return self.default_schema()
        known = self.schema_names()
        if schema not in known:
            raise MetadataError(
                f"schema {schema!r} does not exist in {self.where}; schemas there: "
                f"{_listing(known)}"
            )
        return schema


def select_tables(
    available: list[str],
    tables: list[str] | None,
    exclude: list[str] | None,
    schema: str,
    where: str,
) -> list[str]:
    """The tables to reflect, in ``available``'s order; unknown names are an error."""
    named = list(tables or []) + list(exclude or [])
    unknown = [name for name in named if name not in available]
    if unknown:
        quoted = ", ".join(repr(name) for name in unknown)
        raise MetadataError(
            f"no table {quoted} in schema {schema!r} of {where}; tables there: "
            f"{_listing(available)}"
        )
    chosen = [name for name in available if tables is None or name in tables]
    return [name for name in chosen if name not in (exclude or [])]


def _reflector(connection: sa.Connection, where: str) -> BaseReflector:
    if connection.dialect.name != "duckdb":
        return InspectorReflector(connection, where)
    if files.is_folder_connection(connection):
        return FolderReflector(connection, where)
    return DuckDBReflector(connection, where)


class InspectorReflector(BaseReflector):
    """PostgreSQL, SQLite and MySQL/MariaDB through SQLAlchemy's inspector."""

    def __init__(self, connection: sa.Connection, where: str) -> None:
        super().__init__(connection, where)
        self.inspector = sa.inspect(connection)
        self.dialect = "mysql" if connection.dialect.name == "mariadb" else connection.dialect.name

    def default_schema(self) -> str:
        return str(self.inspector.default_schema_name or "main")

    def schema_names(self) -> list[str]:
        names = self.inspector.get_schema_names()
        return [name for name in names if name not in _SYSTEM_SCHEMAS]

    def table_names(self, schema: str) -> list[str]:
        names = set(self.inspector.get_table_names(schema=schema))
        if self.dialect == "postgresql":
            names -= _postgres_partitions(self.connection, schema)
        return sorted(name for name in names if not name.startswith("sqlite_"))

    def fill(self, metadata: Metadata, schema: str) -> None:
        names = list(metadata.tables)
        kw: dict[str, Any] = {"schema": schema, "filter_names": names}
        with warnings.catch_warnings():
            # Unknown types (xml, point...) are read as text; the warning would only repeat it.
            warnings.simplefilter("ignore", SAWarning)
            columns = _by_table(self.inspector.get_multi_columns(**kw))
        primary_keys = _by_table(self.inspector.get_multi_pk_constraint(**kw))
        uniques = _by_table(self.inspector.get_multi_unique_constraints(**kw))
        if self.dialect == "sqlite":
            kw["include_auto_indexes"] = True
        indexes = _by_table(self.inspector.get_multi_indexes(**kw))
        fixes = self._column_fixes(schema, names)

        for name in names:
            table = metadata.tables[name]
            fix = fixes.get(name)
            for entry in columns.get(name, []):
                column = column_from_inspector(entry, self.dialect)
                if fix is not None:
                    fix(column)
                table.columns[column.name] = column
            table.primary_key = list(primary_keys.get(name, {}).get("constrained_columns") or [])
            add_unique_and_indexes(table, uniques.get(name, []), indexes.get(name, []))
        self._add_relationships(metadata, schema, names)

    def _add_relationships(self, metadata: Metadata, schema: str, names: list[str]) -> None:
        default = self.default_schema()
        foreign_keys = _by_table(
            self.inspector.get_multi_foreign_keys(schema=schema, filter_names=names)
        )
        for child in names:
            for entry in foreign_keys.get(child, []):
                parent = entry["referred_table"]
                parent_schema = entry.get("referred_schema") or default
                if parent_schema != schema or parent not in metadata.tables:
                    _warn_left_out(child, entry["constrained_columns"], f"{parent_schema}.{parent}")
                    continue
                metadata.add_relationship(
                    parent,
                    child,
                    list(entry["referred_columns"]),
                    list(entry["constrained_columns"]),
                    name=entry.get("name"),
                )

    def _column_fixes(self, schema: str, names: list[str]) -> dict[str, ColumnFix]:
        """Per-table corrections of what the inspector reports."""
        if self.dialect == "sqlite":
            return {name: _sqlite_fix(self.connection, schema, name) for name in names}
        if self.dialect == "mysql" and getattr(self.connection.dialect, "is_mariadb", False):
            return _mariadb_json_fixes(self.connection, schema, names)
        if self.dialect == "postgresql":
            fix = _postgres_domain_fix(self.connection)
            return {name: fix for name in names}
        return {}


def _warn_left_out(child: str, columns: list[str], parent: str) -> None:
    log.warning(
        "the foreign key %s%s -> %s is left out: its table is not reflected", child, columns, parent
    )


def _by_table(result: dict[tuple[str | None, str], Any]) -> dict[str, Any]:
    return {key[1]: value for key, value in result.items()}


def _postgres_partitions(connection: sa.Connection, schema: str) -> set[str]:
    rows = connection.execute(
        sa.text(
            "SELECT c.relname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relispartition"
        ),
        {"schema": schema},
    )
    return {row[0] for row in rows}


# --------------------------------------------------------------------------- columns


def column_from_inspector(entry: dict[str, Any], dialect: str) -> Column:
    """A :class:`Column` from one entry of ``Inspector.get_columns``."""
    sql_type, enum_values, enum_name, domain = neutral_type(entry["type"])
    default = entry.get("default")
    computed = entry.get("computed") or {}
    identity = entry.get("identity") is not None or _is_sequence_default(default)
    if dialect == "mysql":
        identity = identity or entry.get("autoincrement") is True

    column = Column(
        name=entry["name"],
        sql_type=sql_type,
        nullable=bool(entry.get("nullable", True)),
        default=None if identity or computed else clean_default(default),
        enum_values=enum_values,
        enum_name=enum_name,
        identity=identity,
        generated=computed.get("sqltext") or None,
    )
    if domain:
        column.extra["domain"] = domain
    return column


def _is_sequence_default(default: str | None) -> bool:
    return default is not None and default.lower().startswith("nextval(")


_CAST_LITERAL = re.compile(r"^\(?('(?:[^']|'')*')\)?::[\w\s.\"\[\]()]+$")


def clean_default(default: str | None) -> str | None:
    """A default expression without PostgreSQL's cast of literals (``'a'::text`` -> ``'a'``)."""
    if default is None:
        return None
    default = default.strip()
    match = _CAST_LITERAL.match(default)
    return match.group(1) if match else default


def neutral_type(type_: Any) -> tuple[str, list[str] | None, str | None, str | None]:
    """(neutral sql_type, enum values, enum type name, domain name) of a SQLAlchemy type."""
    if isinstance(type_, postgresql.DOMAIN):
        sql_type, values, enum_name, _ = neutral_type(type_.data_type)
        return sql_type, values, enum_name, type_.name
    if isinstance(type_, sa.ARRAY):
        element, values, enum_name, _ = neutral_type(type_.item_type)
        return f"{element}[]", values, enum_name, None
    if isinstance(type_, sa.Enum):
        return "enum", list(type_.enums), getattr(type_, "name", None), None

    return _scalar_type(type_), None, None, None


def _scalar_type(type_: Any) -> str:
    name = type(type_).__name__.upper()
    if isinstance(type_, mysql.SET):
        return "text"
    if isinstance(type_, sa.Boolean) or (name == "TINYINT" and type_.display_width == 1):
        return "boolean"
    if isinstance(type_, mysql.BIT):
        return "boolean" if (type_.length or 1) == 1 else "bigint"
    if isinstance(type_, sa.Integer) or name == "YEAR":
        return _integer_type(type_, name)
    if isinstance(type_, sa.Float):
        return _float_type(type_, name)
    if isinstance(type_, sa.Numeric) or name == "MONEY":
        return _numeric_type(getattr(type_, "precision", None), getattr(type_, "scale", None))
    if isinstance(type_, sa.DateTime):
        return "timestamptz" if getattr(type_, "timezone", False) else "timestamp"
    if isinstance(type_, sa.Date):
        return "date"
    if isinstance(type_, sa.Time):
        return "time"
    if isinstance(type_, (sa.Interval, postgresql.INTERVAL)):
        return "interval"
    return _other_type(type_, name)


def _integer_type(type_: Any, name: str) -> str:
    unsigned = bool(getattr(type_, "unsigned", False))
    if name in ("TINYINT", "YEAR") or (name == "SMALLINT" and not unsigned):
        return "smallint"
    if isinstance(type_, sa.SmallInteger) or name == "MEDIUMINT":
        return "integer"
    if isinstance(type_, sa.BigInteger):
        return "numeric(20,0)" if unsigned else "bigint"
    return "bigint" if unsigned else "integer"


def _float_type(type_: Any, name: str) -> str:
    if isinstance(type_, sa.Double) or name in ("DOUBLE", "DOUBLE_PRECISION"):
        return "double"
    precision = getattr(type_, "precision", None)
    return "double" if precision is not None and precision > 24 else "real"


def _numeric_type(precision: int | None, scale: int | None) -> str:
    if precision is None:
        return "numeric"
    return f"numeric({precision},{scale or 0})"


def _other_type(type_: Any, name: str) -> str:
    if isinstance(type_, sa.Uuid) or name == "UUID":
        return "uuid"
    if isinstance(type_, sa.JSON):
        return "json"
    if isinstance(type_, (sa.LargeBinary, sa.BINARY, sa.VARBINARY)) or name.endswith("BLOB"):
        return "binary"
    if isinstance(type_, sa.Text) or name.endswith("TEXT") or name == "CLOB":
        return "text"
    if isinstance(type_, (sa.CHAR, sa.NCHAR)) and getattr(type_, "length", None):
        return f"char({type_.length})"
    if isinstance(type_, sa.String):
        length = getattr(type_, "length", None)
        return f"varchar({length})" if length else "varchar"
    log.info("type %r has no neutral equivalent; it is read and written as text", type_)
    return "text"


# --------------------------------------------------------------------------- keys


def add_unique_and_indexes(
    table: Table, uniques: list[dict[str, Any]], indexes: list[dict[str, Any]]
) -> None:
    """Unique constraints (unique indexes included) and other plain-column indexes."""
    for entry in uniques:
        _add_unique(table, list(entry["column_names"]))

    for entry in indexes:
        columns = list(entry.get("column_names") or [])
        options = entry.get("dialect_options") or {}
        if not columns or None in columns or any(key.endswith("_where") for key in options):
            log.info(
                "index %s of %s is partial or on expressions; it is left out",
                entry.get("name"),
                table.name,
            )
        elif entry.get("unique"):
            _add_unique(table, columns)
        elif not any(index["columns"] == columns for index in table.indexes):
            table.indexes.append({"name": entry.get("name"), "columns": columns, "unique": False})


def _add_unique(table: Table, columns: list[str]) -> None:
    keys = [table.primary_key, *table.unique_constraints]
    if not any(sorted(key) == sorted(columns) for key in keys):
        table.unique_constraints.append(columns)


# --------------------------------------------------------------------------- dialect fixes


_SIZED_TYPE = re.compile(r"(character varying|character|numeric)\((\d+)(?:,(\d+))?\)")


def _postgres_domain_fix(connection: sa.Connection) -> ColumnFix:
    """A corrector restoring the length or precision of a domain's base type, which
    SQLAlchemy drops (``varchar(80)`` would come back as ``varchar``)."""
    rows = connection.exec_driver_sql(
        "SELECT typname, format_type(typbasetype, typtypmod) FROM pg_catalog.pg_type "
        "WHERE typtype = 'd'"
    )
    sized: dict[str, str] = {}
    for name, base in rows:
        match = _SIZED_TYPE.fullmatch(base)
        if match:
            kind, size, scale = match.groups()
            neutral = {"character varying": "varchar", "character": "char"}.get(kind, kind)
            sized[name] = f"{neutral}({size}{',' + scale if scale else ''})"

    def fix(column: Column) -> None:
        domain = column.extra.get("domain")
        if domain in sized and column.sql_type is not None and "(" not in column.sql_type:
            column.sql_type = sized[domain]

    return fix


_SQLITE_DECLARED = {
    "UUID": "uuid",
    "TIMESTAMPTZ": "timestamptz",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "INTERVAL": "interval",
    "JSONB": "json",
    "BYTEA": "binary",
    "DOUBLE PRECISION": "double",
}


def _sqlite_fix(connection: sa.Connection, schema: str, table: str) -> ColumnFix:
    """A corrector for one SQLite table: declared types SQLAlchemy reads by affinity only,
    AUTOINCREMENT keys and the text of generated columns."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    pragma = f"PRAGMA {quote(schema)}.table_xinfo({quote(table)})"
    columns = connection.exec_driver_sql(pragma).all()
    declared = {row[1]: re.sub(r"\s+", " ", (row[2] or "").strip().upper()) for row in columns}
    generated = {row[1] for row in columns if row[6] in (2, 3)}
    sql = (
        connection.exec_driver_sql(
            f"SELECT sql FROM {quote(schema)}.sqlite_master WHERE type = 'table' AND name = ?",
            (table,),
        ).scalar()
        or ""
    )

    def fix(column: Column) -> None:
        column.sql_type = _SQLITE_DECLARED.get(declared.get(column.name, ""), column.sql_type)
        if column.sql_type in ("integer", "bigint") and _sqlite_autoincrement(sql, column.name):
            column.identity = True
        if column.name in generated:
            column.generated = _sqlite_generated(sql, column.name) or column.generated
            column.default = None
        labels = _sqlite_enum_labels(sql, column.name)
        if labels and column.sql_type is not None and "char" in column.sql_type:
            column.sql_type, column.enum_values = "enum", labels

    return fix


def _sqlite_enum_labels(sql: str, column: str) -> list[str] | None:
    """The labels of a ``CHECK (column IN ('a', 'b'))`` constraint: SQLite's form of an enum."""
    name = rf"[\"`\[]?{re.escape(column)}[\"`\]]?"
    labels = r"((?:\s*'(?:[^']|'')*'\s*,)*\s*'(?:[^']|'')*'\s*)"
    match = re.search(rf"CHECK\s*\(\s*{name}\s+IN\s*\({labels}\)\s*\)", sql, re.IGNORECASE)
    if match is None:
        return None
    return [label.replace("''", "'") for label in re.findall(r"'((?:[^']|'')*)'", match.group(1))]


def _sqlite_autoincrement(sql: str, column: str) -> bool:
    name = rf"[\"`\[]?{re.escape(column)}[\"`\]]?"
    pattern = rf"(?:^|[\s,(]){name}\s+INTEGER\s+PRIMARY\s+KEY\s+(?:ASC\s+|DESC\s+)?AUTOINCREMENT"
    return re.search(pattern, sql, re.IGNORECASE) is not None


def _sqlite_generated(sql: str, column: str) -> str | None:
    """The expression of a generated column, read from the table's CREATE statement."""
    name = rf"(?:^|[\s,(])[\"`\[]?{re.escape(column)}[\"`\]]?"
    rest = r"\s(?:[^,()]|\([^()]*\))*?\bAS\s*\("
    match = re.search(name + rest, sql, re.IGNORECASE)
    if match is None:
        return None
    depth, start = 1, match.end()
    for position in range(start, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[position], 0)
        if depth == 0:
            return sql[start:position].strip()
    return None


def _mariadb_json_fixes(
    connection: sa.Connection, schema: str, names: list[str]
) -> dict[str, ColumnFix]:
    """MariaDB stores JSON as LONGTEXT with a ``json_valid`` check: read those columns as json."""
    rows = connection.exec_driver_sql(
        "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
        "WHERE CONSTRAINT_SCHEMA = %s",
        (schema,),
    ).all()
    json_columns: dict[str, set[str]] = {}
    for table, clause in rows:
        match = re.fullmatch(r"\s*json_valid\(`?([^`)]+)`?\)\s*", clause or "")
        if match and table in names:
            json_columns.setdefault(table, set()).add(match.group(1))

    def fixer(columns: set[str]) -> ColumnFix:
        def fix(column: Column) -> None:
            if column.name in columns:
                column.sql_type = "json"

        return fix

    return {table: fixer(columns) for table, columns in json_columns.items()}


# --------------------------------------------------------------------------- DuckDB


class DuckDBReflector(BaseReflector):
    """DuckDB from its catalogue functions (duckdb-engine cannot reflect keys)."""

    def default_schema(self) -> str:
        return str(self.connection.exec_driver_sql("SELECT current_schema()").scalar())

    def schema_names(self) -> list[str]:
        rows = self.connection.exec_driver_sql(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
        )
        return [row[0] for row in rows if row[0] not in _SYSTEM_SCHEMAS]

    def table_names(self, schema: str) -> list[str]:
        rows = self.connection.exec_driver_sql(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = ? AND NOT internal AND NOT temporary ORDER BY table_name",
            (schema,),
        )
        return [row[0] for row in rows]

    def fill(self, metadata: Metadata, schema: str) -> None:
        enum_names = self._enum_names(schema)
        rows = self.connection.exec_driver_sql(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, "
            "is_generated, generation_expression FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = ? "
            "ORDER BY table_name, column_index",
            (schema,),
        )
        for table, name, data_type, nullable, default, generated, expression in rows:
            if table not in metadata.tables:
                continue
            column = column_from_duckdb(name, data_type, nullable)
            column.identity = _is_sequence_default(default)
            column.generated = expression if generated else None
            if not column.identity and not generated:
                column.default = default
            if column.enum_values is not None:
                column.enum_name = enum_names.get(tuple(column.enum_values))
            metadata.tables[table].columns[name] = column
        self._add_constraints(metadata, schema)
        self._add_indexes(metadata, schema)

    def _enum_names(self, schema: str) -> dict[tuple[str, ...], str]:
        rows = self.connection.exec_driver_sql(
            "SELECT type_name, labels FROM duckdb_types() WHERE database_name = "
            "current_database() AND schema_name = ? AND logical_type = 'ENUM' AND NOT internal",
            (schema,),
        )
        return {tuple(labels): name for name, labels in rows}

    def _add_constraints(self, metadata: Metadata, schema: str) -> None:
        rows = self.connection.exec_driver_sql(
            "SELECT table_name, constraint_type, constraint_column_names, constraint_name, "
            "referenced_table, referenced_column_names FROM duckdb_constraints() "
            "WHERE database_name = current_database() AND schema_name = ? "
            "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY') "
            "ORDER BY constraint_index",
            (schema,),
        ).all()
        for table, kind, columns, _, _, _ in rows:
            if table in metadata.tables and kind == "PRIMARY KEY":
                metadata.tables[table].primary_key = list(columns)

        for table, kind, columns, name, parent, parent_columns in rows:
            if table not in metadata.tables or kind == "PRIMARY KEY":
                continue
            if kind == "UNIQUE":
                _add_unique(metadata.tables[table], list(columns))
            elif parent in metadata.tables:
                metadata.add_relationship(parent, table, list(parent_columns), list(columns), name)
            else:
                _warn_left_out(table, list(columns), parent)

    def _add_indexes(self, metadata: Metadata, schema: str) -> None:
        rows = self.connection.exec_driver_sql(
            "SELECT table_name, index_name, is_unique, expressions FROM duckdb_indexes() "
            "WHERE database_name = current_database() AND schema_name = ?",
            (schema,),
        )
        for table_name, name, unique, expressions in rows:
            table = metadata.tables.get(table_name)
            if table is None:
                continue
            parts = [part.strip().strip('"') for part in str(expressions).strip("[]").split(",")]
            columns: list[str | None] = [part if part in table.columns else None for part in parts]
            entry = {"name": name, "column_names": columns, "unique": bool(unique)}
            add_unique_and_indexes(table, [], [entry])


class FolderReflector(DuckDBReflector):
    """A folder of CSV/Parquet files: one view per file, keys inferred from column names."""

    def check_schema(self, schema: str | None) -> str:
        if schema is not None:
            raise MetadataError(f"{self.where} is a folder of files; it has no schema {schema!r}")
        return "main"

    def table_names(self, schema: str) -> list[str]:
        rows = self.connection.exec_driver_sql(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary "
            "ORDER BY view_name"
        )
        return [row[0] for row in rows]

    def fill(self, metadata: Metadata, schema: str) -> None:
        quote = self.connection.dialect.identifier_preparer.quote_identifier
        for name, table in metadata.tables.items():
            described = self.connection.exec_driver_sql(f"DESCRIBE {quote(name)}").all()
            for row in described:
                table.columns[row[0]] = column_from_duckdb(row[0], row[1], row[2] != "NO")
            table.primary_key = files.infer_primary_key(self.connection, name, table.column_names)
        files.infer_relationships(metadata)


def column_from_duckdb(name: str, data_type: str, nullable: bool) -> Column:
    """A :class:`Column` from DuckDB's name for a type (``DECIMAL(10,2)``, ``ENUM('a')``...)."""
    sql_type, enum_values = duckdb_neutral_type(data_type)
    return Column(name=name, sql_type=sql_type, nullable=bool(nullable), enum_values=enum_values)


_DUCKDB_TYPES = {
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "UTINYINT": "smallint",
    "INTEGER": "integer",
    "USMALLINT": "integer",
    "BIGINT": "bigint",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20,0)",
    "HUGEINT": "numeric(38,0)",
    "UHUGEINT": "numeric(38,0)",
    "FLOAT": "real",
    "DOUBLE": "double",
    "VARCHAR": "varchar",
    "DATE": "date",
    "TIME": "time",
    "TIME WITH TIME ZONE": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "JSON": "json",
    "BLOB": "binary",
    "BIT": "text",
}


def duckdb_neutral_type(data_type: str) -> tuple[str, list[str] | None]:
    """(neutral sql_type, enum values) of a DuckDB type name."""
    text = data_type.strip()
    array = re.fullmatch(r"(.+)\[\d*\]", text)
    if array:
        element, values = duckdb_neutral_type(array.group(1))
        return f"{element}[]", values
    upper = text.upper()
    if upper.startswith("ENUM("):
        labels = [label.replace("''", "'") for label in re.findall(r"'((?:[^']|'')*)'", text)]
        return "enum", labels
    decimal = re.fullmatch(r"(?:DECIMAL|NUMERIC)\((\d+),\s*(\d+)\)", upper)
    if decimal:
        return f"numeric({decimal.group(1)},{decimal.group(2)})", None
    if upper.startswith(("STRUCT", "MAP", "UNION")):
        return "json", None
    return _DUCKDB_TYPES.get(upper, "text"), None


# --------------------------------------------------------------------------- sampling


def sample_strings(
    connection: sa.Connection, metadata: Metadata, schema: str | None
) -> dict[str, dict[str, list[object]]]:
    """Up to :data:`SAMPLE_ROWS` values of every string column, one bounded query per table."""
    samples: dict[str, dict[str, list[object]]] = {}
    estimates = postgres_estimates(connection, list(metadata.tables), schema)
    for name, table in metadata.tables.items():
        columns = [
            column.name
            for column in table.columns.values()
            if type_family(column.sql_type) == "string"
        ]
        if not columns:
            continue
        sql = _sample_query(connection, schema, name, columns, estimates.get(name, 0.0))
        rows = connection.exec_driver_sql(sql).all()
        samples[name] = {column: [row[i] for row in rows] for i, column in enumerate(columns)}
    return samples


def _sample_query(
    connection: sa.Connection, schema: str | None, table: str, columns: list[str], rows: float
) -> str:
    quote = connection.dialect.identifier_preparer.quote_identifier
    selected = ", ".join(quote(column) for column in columns)
    source = qualified_name(connection, schema, table)
    if rows > TABLESAMPLE_ABOVE_ROWS:
        percent = min(100.0, 100.0 * 10 * SAMPLE_ROWS / rows)
        source += f" TABLESAMPLE SYSTEM ({percent:.6f})"
    return f"SELECT {selected} FROM {source} LIMIT {SAMPLE_ROWS}"


def postgres_estimates(
    connection: sa.Connection, tables: list[str], schema: str | None
) -> dict[str, float]:
    """PostgreSQL's row estimates (``reltuples``, summed over the partitions of a partitioned
    table; -1 or 0 if unknown); empty elsewhere."""
    if connection.dialect.name != "postgresql" or not tables:
        return {}
    rows = connection.execute(
        sa.text(
            "SELECT c.relname, CASE WHEN c.relkind = 'p' THEN "
            "(SELECT COALESCE(sum(GREATEST(p.reltuples, 0)), -1) FROM pg_catalog.pg_inherits i "
            "JOIN pg_catalog.pg_class p ON p.oid = i.inhrelid WHERE i.inhparent = c.oid) "
            "ELSE c.reltuples END FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = COALESCE(:schema, current_schema()) AND c.relname = ANY(:names)"
        ),
        {"schema": schema, "names": tables},
    )
    return {name: float(estimate) for name, estimate in rows}
