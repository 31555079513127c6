"""Shared fixtures: real database servers, scratch databases and the shared sample databases.

Servers are found at the URLs in ``HSA_DB_TEST_POSTGRES_URL`` and ``HSA_DB_TEST_MYSQL_URL``
(defaults: the local servers). Where a server is absent the tests that need it skip with the
reason; under CI (``CI`` set) they fail instead, so that a missing service is never hidden.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

POSTGRES_URL = os.environ.get(
    "HSA_DB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MYSQL_URL = os.environ.get("HSA_DB_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
IN_CI = bool(os.environ.get("CI"))

DIALECTS = ["postgresql", "sqlite", "duckdb", "mysql"]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI must run every database test)")
    pytest.skip(reason)


def _server_error(url: str) -> str | None:
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as error:  # any failure means: no usable server here
        return str(error).splitlines()[0]
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of the PostgreSQL server's maintenance database."""
    error = _server_error(POSTGRES_URL)
    if error:
        _unavailable(f"no PostgreSQL server at {POSTGRES_URL} ({error})")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def mysql_server() -> str:
    """URL of the MySQL/MariaDB server's test database."""
    pytest.importorskip("pymysql", reason="pymysql is not installed (pip install 'hsa-db[mysql]')")
    error = _server_error(MYSQL_URL)
    if error:
        _unavailable(f"no MySQL/MariaDB server at {MYSQL_URL} ({error})")
    return MYSQL_URL


def _scratch_database(server_url: str, isolation: str) -> Iterator[str]:
    name = f"hsa_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level=isolation)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            if admin.dialect.name == "postgresql":
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped after the test."""
    yield from _scratch_database(postgres_server, "AUTOCOMMIT")


@pytest.fixture
def postgresql_url(postgres_url: str) -> str:
    """:func:`postgres_url` under the dialect's name, which :func:`empty_database` uses."""
    return postgres_url


@pytest.fixture
def mysql_url(mysql_server: str) -> Iterator[str]:
    """A new, empty MySQL/MariaDB database, dropped after the test."""
    yield from _scratch_database(mysql_server, "AUTOCOMMIT")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def duckdb_url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path / 'test.duckdb'}"


@pytest.fixture(params=DIALECTS)
def empty_database(request: pytest.FixtureRequest) -> str:
    """An empty database of each dialect in turn (parametrized over :data:`DIALECTS`)."""
    return request.getfixturevalue(f"{request.param}_url")


def _sample_database(postgres_server: str, name: str) -> str:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"sample databases not found at {SHARED_DATA}")
    url = make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    error = _server_error(url)
    if error:
        _unavailable(
            f"sample database {name!r} is not loaded ({error}); "
            f"run {SHARED_DATA / 'load-postgres.sh'} -h 127.0.0.1 -U postgres"
        )
    return url


@pytest.fixture(scope="session")
def chinook_pg(postgres_server: str) -> str:
    """URL of the shared chinook sample database in PostgreSQL (read it, never write it)."""
    return _sample_database(postgres_server, "chinook")


@pytest.fixture(scope="session")
def northwind_pg(postgres_server: str) -> str:
    """URL of the shared northwind sample database in PostgreSQL (read it, never write it)."""
    return _sample_database(postgres_server, "northwind")


@pytest.fixture(scope="session")
def chinook_sqlite() -> str:
    """URL of the shared chinook SQLite file (read it, never write it)."""
    path = SHARED_DATA / "chinook.sqlite"
    if not path.exists():
        pytest.skip(f"sample database not found at {path}")
    return f"sqlite:///{path}"
