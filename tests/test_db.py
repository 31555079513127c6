"""Locations and connections: what users type becomes a connection or a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsa_db import DatabaseError
from hsa_db.db import create_engine, mask_text, parse_location


def test_plain_urls_get_the_project_drivers() -> None:
    assert parse_location("postgresql://u@h/db").url.drivername == "postgresql+psycopg"
    assert parse_location("mysql://u@h/db").url.drivername == "mysql+pymysql"
    assert parse_location("x.duckdb").dialect == "duckdb"
    assert parse_location("x.sqlite").dialect == "sqlite"


def test_folder_is_a_file_source(tmp_path: Path) -> None:
    assert parse_location(str(tmp_path)).dialect == "files"


def test_passwords_are_masked() -> None:
    location = parse_location("postgresql://me:s3cret@host/db")
    assert "s3cret" not in location.masked()
    assert mask_text("see postgresql://me:s3cret@host/db now") == (
        "see postgresql://me:***@host/db now"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a url", "neither a URL"),
        ("oracle://u@h/db", "unsupported database 'oracle'"),
        ("data.csv", "single file"),
        ("", "empty database URL"),
    ],
)
def test_bad_locations(text: str, message: str) -> None:
    with pytest.raises(DatabaseError, match=message):
        parse_location(text)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        create_engine(parse_location(str(tmp_path / "missing.duckdb")))


def test_unreachable_server_is_one_line() -> None:
    with pytest.raises(DatabaseError, match="cannot reach 127.0.0.1:1") as error:
        create_engine(parse_location("postgresql://u:pw@127.0.0.1:1/db"))
    assert "\n" not in str(error.value) and "pw" not in str(error.value)


def test_wrong_credentials(postgres_server: str) -> None:
    with pytest.raises(DatabaseError, match="wrong user or password"):
        create_engine(parse_location("postgresql://nobody_here:x@127.0.0.1:5432/postgres"))


def test_unknown_database(postgres_server: str, mysql_server: str) -> None:
    for url in (
        "postgresql://postgres@127.0.0.1:5432/no_such_db",
        "mysql://root@127.0.0.1:3306/no_such_db",
    ):
        with pytest.raises(DatabaseError, match="'no_such_db' does not exist"):
            create_engine(parse_location(url))


def test_read_only_source_cannot_be_written(postgres_url: str) -> None:
    engine = create_engine(parse_location(postgres_url), read_only=True)
    with pytest.raises(Exception, match="read-only"), engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x int)")
