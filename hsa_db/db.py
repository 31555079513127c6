"""Database URLs and engines: one place that turns what a user typed into a working connection
or a one-line error that says what to do."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from hsa_db.errors import DatabaseError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5

_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_SQLITE_SUFFIXES = {".sqlite", ".sqlite3", ".db"}
_DUCKDB_SUFFIXES = {".duckdb", ".ddb"}
_FILE_SUFFIXES = {".csv", ".parquet"}

#: Name of the bundled example database accepted wherever a source URL is.
EXAMPLE_SOURCE = "example"


@dataclass(frozen=True)
class Location:
    """Where data lives: a SQLAlchemy URL, or a folder of CSV/Parquet files."""

    url: URL | None = None
    folder: Path | None = None

    @property
    def dialect(self) -> str:
        """``postgresql``, ``mysql`` (MariaDB too), ``sqlite``, ``duckdb`` or ``files``."""
        if self.folder is not None:
            return "files"
        assert self.url is not None
        name = self.url.get_backend_name()
        return "mysql" if name == "mariadb" else name

    @property
    def database_file(self) -> Path | None:
        """The file of an embedded database (SQLite, DuckDB), if any."""
        if self.dialect not in ("sqlite", "duckdb") or self.url is None:
            return None
        if not self.url.database or self.url.database == ":memory:":
            return None
        return Path(self.url.database)

    def masked(self) -> str:
        """The location as text, safe to print: the password is replaced by ``***``."""
        if self.folder is not None:
            return str(self.folder)
        assert self.url is not None
        return self.url.render_as_string(hide_password=True)


def parse_location(text: str) -> Location:
    """Understand a URL, a database file path or a folder of CSV/Parquet files."""
    text = text.strip()
    if not text:
        raise DatabaseError("empty database URL; give one such as postgresql://user@host/db")
    if "://" not in text:
        return _parse_path(Path(text))

    try:
        url = make_url(text)
    except ArgumentError:
        raise DatabaseError(
            f"{mask_text(text)!r} is not a database URL; write it as "
            "dialect://user:password@host:port/database"
        ) from None
    backend = url.drivername.split("+")[0]
    if "+" not in url.drivername and backend in _DRIVERS:
        url = url.set(drivername=_DRIVERS[backend])
    if backend not in ("postgresql", "postgres", "mysql", "mariadb", "sqlite", "duckdb"):
        raise DatabaseError(
            f"unsupported database {backend!r}; use postgresql://, mysql://, mariadb://, "
            "sqlite:/// or duckdb:///"
        )
    return Location(url=url)


def _parse_path(path: Path) -> Location:
    suffix = path.suffix.lower()
    if path.is_dir():
        return Location(folder=path)
    if suffix in _SQLITE_SUFFIXES:
        return Location(url=make_url(f"sqlite:///{path}"))
    if suffix in _DUCKDB_SUFFIXES:
        return Location(url=make_url(f"duckdb:///{path}"))
    if suffix in _FILE_SUFFIXES:
        raise DatabaseError(
            f"{str(path)!r} is a single file; give the folder that holds the CSV or Parquet files"
        )
    raise DatabaseError(
        f"{str(path)!r} is neither a URL nor a database file nor a folder; give a URL such as "
        "postgresql://user@host/db, a .duckdb/.sqlite file or a folder of CSV/Parquet files"
    )


def mask_text(text: str) -> str:
    """Hide a password in free text that may hold a URL."""
    return re.sub(r"(://[^:/@\s]+:)[^@\s]*@", r"\1***@", text)


def create_engine(location: Location, read_only: bool = False, must_exist: bool = True) -> Engine:
    """An engine for ``location``, with a first connection made to check that it works.

    ``read_only`` opens embedded files read-only and PostgreSQL/MySQL sessions in read-only
    transactions, so that a source is never written. ``must_exist`` refuses a missing file.
    """
    if location.url is None:
        raise DatabaseError(f"{location.masked()!r} is a folder of files, not a database")
    url = location.url
    dialect = location.dialect
    kwargs: dict[str, Any] = {}
    file = location.database_file

    if file is not None and must_exist and not file.exists():
        raise DatabaseError(f"database file {str(file)!r} does not exist; check the path")
    if file is not None and not must_exist:
        file.parent.mkdir(parents=True, exist_ok=True)
    if dialect == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        if read_only:
            kwargs["connect_args"]["options"] = "-c default_transaction_read_only=on"
    elif dialect == "mysql":
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    elif dialect == "sqlite" and read_only and file is not None:
        url = make_url(f"sqlite:///file:{file.resolve()}?mode=ro&uri=true")
    elif dialect == "duckdb" and read_only:
        kwargs["connect_args"] = {"read_only": True}

    try:
        engine = sa.create_engine(url, **kwargs)
    except NoSuchModuleError:
        raise DatabaseError(
            f"no driver for {location.dialect}; install it with pip install 'hsa-db[mysql]'"
        ) from None
    except ImportError as error:
        raise DatabaseError(
            f"the driver for {dialect} is not installed ({error.name}); install it with pip"
        ) from None
    check_connection(engine, location)
    if dialect == "mysql" and read_only:
        sa.event.listen(engine, "begin", _mysql_read_only)
    return engine


def _mysql_read_only(connection: sa.Connection) -> None:
    connection.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")


def check_connection(engine: Engine, location: Location) -> None:
    """Connect once, translating the driver's error into a :class:`DatabaseError`."""
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except DBAPIError as error:
        engine.dispose()
        raise DatabaseError(describe_connection_error(error, location)) from None


def describe_connection_error(error: Exception, location: Location) -> str:
    """One line that says why a connection failed and what to do about it."""
    where = location.masked()
    text = mask_text(str(getattr(error, "orig", error)) or str(error)).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    lowered = text.lower()
    url = location.url
    host = f"{url.host or 'localhost'}:{url.port or 'default port'}" if url else where

    login_failed = ("role" in lowered and "does not exist" in lowered) or "access denied" in lowered
    if "password authentication failed" in lowered or login_failed:
        return f"cannot log in to {where}: wrong user or password; check the credentials in the URL"
    if "does not exist" in lowered and "database" in lowered or "unknown database" in lowered:
        database = url.database if url else ""
        return f"database {database!r} does not exist on {host}; create it or fix the URL"
    if any(
        marker in lowered
        for marker in (
            "connection refused",
            "could not connect",
            "can't connect",
            "timeout",
            "timed out",
            "name or service not known",
            "could not translate host",
            "nodename nor servname",
            "failed to resolve",
        )
    ):
        return f"cannot reach {host} ({first}); check that the server runs and the host is right"
    if "unable to open database file" in lowered or "could not set lock" in lowered:
        return f"cannot open {where} ({first}); check the path and that no other program holds it"
    return f"cannot connect to {where}: {first}"


def quote_identifier(engine: Engine, name: str) -> str:
    """``name`` quoted for ``engine``'s dialect."""
    return engine.dialect.identifier_preparer.quote_identifier(name)
