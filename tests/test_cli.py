"""The command line: help for every command, and bad input as one line with exit code 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hsa_db.cli import main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "hsa_db.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help(name: str) -> None:
    command = main.commands[name]
    assert command.help and command.help.strip()
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    for parameter in command.params:
        if isinstance(parameter, click.Option):
            assert parameter.help, f"{name} {parameter.name} has no help"


def one_line_error(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    assert expected in errors[0], errors[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:secret@127.0.0.1:1/db", "cannot reach 127.0.0.1:1"),
        ("no/such/file.duckdb", "does not exist"),
        ("not-a-url", "neither a URL"),
        ("oracle://u@h/db", "unsupported database"),
    ],
)
def test_inspect_bad_locations(url: str, expected: str) -> None:
    result = run("inspect", url)
    one_line_error(result, expected)
    assert "secret" not in result.stderr


def test_inspect_bad_server_input(postgres_server: str) -> None:
    one_line_error(
        run("inspect", "postgresql://nobody:pw@127.0.0.1:5432/postgres"), "wrong user or password"
    )
    one_line_error(
        run("inspect", "postgresql://postgres@127.0.0.1:5432/no_such_db"), "does not exist"
    )


def test_inspect_unknown_schema_and_table(chinook_pg: str) -> None:
    one_line_error(run("inspect", chinook_pg, "--schema", "nope"), "nope")
    one_line_error(run("inspect", chinook_pg, "--tables", "nope"), "nope")


def test_usage_errors_exit_2() -> None:
    result = run("clone", "--scale", "lots", "--dst", "x.duckdb")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_clone_refuses_same_source_and_target(tmp_path: Path) -> None:
    target = tmp_path / "same.duckdb"
    import duckdb

    duckdb.connect(str(target)).close()
    one_line_error(run("clone", "--src", str(target), "--dst", str(target)), "same database")


def test_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("tabels: {}\n")
    one_line_error(
        run("clone", "--dst", str(tmp_path / "o.duckdb"), "--config", str(config)),
        "unknown setting 'tabels'",
    )


def test_inspect_json_round_trips(chinook_pg: str, tmp_path: Path) -> None:
    from hsa_db import Metadata

    path = tmp_path / "chinook.json"
    result = run("inspect", chinook_pg, "--json", str(path))
    assert result.returncode == 0, result.stderr
    assert "playlist_track" in result.stdout and "reports_to" in result.stdout

    assert Metadata.load_from_json(path) == Metadata.from_database(chinook_pg)


def test_passwords_never_appear_in_output(chinook_pg: str, tmp_path: Path) -> None:
    # The local server trusts every login, so any password connects.
    with_password = chinook_pg.replace("postgres@", "postgres:Sup3rSecret@")
    result = run(
        "clone",
        "--src",
        with_password,
        "--dst",
        str(tmp_path / "c.duckdb"),
        "--tables",
        "genre,media_type",
    )
    assert result.returncode == 0, result.stderr
    assert "Sup3rSecret" not in result.stdout + result.stderr
    assert "***" in result.stderr
