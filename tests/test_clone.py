"""The clone pipeline end to end on the shared sample databases, between real databases."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from hsa_db import Metadata
from hsa_db.cli import main
from tests.checks import dangling_foreign_keys, duplicate_keys, row_counts

SCALE = 0.5


def clone(src: str, dst: str, *options: str) -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["clone", "--src", src, "--dst", dst, "--quiet", *options])
    assert result.exit_code == 0, result.output


def declared_relationships(metadata: Metadata) -> set[tuple]:
    return {
        (rel.child_table, tuple(rel.child_columns), rel.parent_table, tuple(rel.parent_columns))
        for rel in metadata.relationships
    }


def column_types(metadata: Metadata) -> dict[tuple[str, str], tuple]:
    return {
        (table.name, column.name): (column.sql_type, tuple(column.enum_values or ()))
        for table in metadata.tables.values()
        for column in table.columns.values()
    }


def check_clone(src: str, dst: str, source: Metadata) -> None:
    """The target declares every key of the source, the keys hold, and counts follow scale."""
    target = Metadata.from_database(dst)
    assert set(target.tables) == set(source.tables)
    assert declared_relationships(target) == declared_relationships(source)
    assert not any(dangling_foreign_keys(dst, source).values())
    assert not any(duplicate_keys(dst, source).values())

    real, synthetic = row_counts(src, source), row_counts(dst, source)
    for name, count in real.items():
        expected = count * SCALE
        assert abs(synthetic[name] - expected) <= max(3, 0.35 * expected), (name, count)


@pytest.mark.parametrize("sample", ["chinook", "northwind"])
@pytest.mark.parametrize("target", ["postgresql", "duckdb", "mysql"])
def test_clone_from_postgres(sample: str, target: str, request: pytest.FixtureRequest) -> None:
    src = request.getfixturevalue(f"{sample}_pg")
    dst = request.getfixturevalue(f"{target}_url")
    source = Metadata.from_database(src)

    clone(src, dst, "--scale", str(SCALE), "--seed", "7")

    check_clone(src, dst, source)
    if target == "postgresql":
        assert column_types(Metadata.from_database(dst)) == column_types(source)


def test_clone_from_sqlite_to_postgres(chinook_sqlite: str, postgres_url: str) -> None:
    source = Metadata.from_database(chinook_sqlite)
    clone(chinook_sqlite, postgres_url, "--scale", str(SCALE))
    check_clone(chinook_sqlite, postgres_url, source)


def test_existing_target_is_refused_and_untouched(northwind_pg: str, postgres_url: str) -> None:
    clone(northwind_pg, postgres_url, "--scale", "0.2")
    before = row_counts(postgres_url, Metadata.from_database(postgres_url))

    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["clone", "--src", northwind_pg, "--dst", postgres_url])
    assert result.exit_code == 1
    assert "already" in result.output
    assert row_counts(postgres_url, Metadata.from_database(postgres_url)) == before

    clone(northwind_pg, postgres_url, "--scale", "0.4", "--if-exists", "replace")
    after = row_counts(postgres_url, Metadata.from_database(postgres_url))
    assert after["orders"] > before["orders"]


def test_source_equal_to_target_is_refused(chinook_pg: str) -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["clone", "--src", chinook_pg, "--dst", chinook_pg])
    assert result.exit_code == 1
    assert "same database" in result.output


def test_saved_model_samples_the_rows_clone_writes(chinook_pg: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    model = tmp_path / "chinook.pkl"
    cloned, sampled = tmp_path / "cloned.duckdb", tmp_path / "sampled.duckdb"
    clone(chinook_pg, str(cloned), "--seed", "3", "--scale", "0.3")
    runner = CliRunner()
    assert runner.invoke(main, ["fit", "--src", chinook_pg, "-o", str(model), "-q"]).exit_code == 0
    result = runner.invoke(
        main, ["sample", str(model), "--dst", str(sampled), "--seed", "3", "--scale", "0.3", "-q"]
    )
    assert result.exit_code == 0, result.output

    for table in ("customer", "invoice", "invoice_line", "track"):
        query = f"SELECT * FROM {table} ORDER BY 1"
        with (
            sa.create_engine(f"duckdb:///{cloned}").connect() as a,
            sa.create_engine(f"duckdb:///{sampled}").connect() as b,
        ):
            assert a.exec_driver_sql(query).fetchall() == b.exec_driver_sql(query).fetchall()


# Runs ``hsa-db clone`` with the sampler paused after its first batch has been handed to the
# writer, so that the kill lands while the target is half loaded.
PAUSED_CLONE = """
import sys, time
from hsa_db.hsa import HSASynthesizer
batches = HSASynthesizer.sample_batches

def paused(self, *args, **kwargs):
    for batch in batches(self, *args, **kwargs):
        yield batch
        print("batch loaded", file=sys.stderr, flush=True)
        time.sleep(120)

HSASynthesizer.sample_batches = paused
from hsa_db.cli import main
main()
"""


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGINT])
def test_killed_clone_leaves_no_half_filled_target(
    signal_number: int, northwind_pg: str, postgres_url: str
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PAUSED_CLONE,
            "clone",
            "--src",
            northwind_pg,
            "--dst",
            postgres_url,
            "--quiet",
        ],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stderr is not None
    lines = iter(process.stderr.readline, "")
    assert any(line.strip() == "batch loaded" for line in lines)
    process.send_signal(signal_number)
    rest = process.stderr.read()
    code = process.wait(timeout=30)

    if signal_number == signal.SIGINT:
        assert code == 130
        assert rest.strip() == "Error: interrupted; the target was left as it was."
    engine = sa.create_engine(postgres_url)
    with engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == []
    engine.dispose()


def test_config_scales_a_table_and_its_descendants(tmp_path: Path) -> None:
    config = tmp_path / "clone.toml"
    config.write_text("[tables.customer]\nscale = 2\n")
    target = tmp_path / "shop.duckdb"

    clone("example", str(target), "--config", str(config), "--scale", "0.5")

    counts = row_counts(str(target), Metadata.from_database(str(target)))
    assert counts["customer"] == 300
    assert counts["region"] == 3
    assert 800 <= counts["orders"] <= 1350


MIGRATION = """
ALTER TABLE customer ADD COLUMN imported_by text NOT NULL DEFAULT 'migration';
CREATE TABLE audit (customer_id integer, at timestamptz DEFAULT now());
CREATE FUNCTION audit_customer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit (customer_id) VALUES (NEW.customer_id); RETURN NEW; END $$;
CREATE TRIGGER customer_audit AFTER INSERT ON customer
    FOR EACH ROW EXECUTE FUNCTION audit_customer();
"""


def test_user_schema_keeps_triggers_and_defaults(postgres_url: str) -> None:
    from hsa_db.example import write_example

    write_example(postgres_url)
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(MIGRATION)

    clone("example", postgres_url, "--if-exists", "truncate", "--scale", "0.5")

    with engine.connect() as connection:
        customers = connection.exec_driver_sql("SELECT count(*) FROM customer").scalar()
        audited = connection.exec_driver_sql("SELECT count(*) FROM audit").scalar()
        defaults = connection.exec_driver_sql(
            "SELECT DISTINCT imported_by FROM customer"
        ).fetchall()
        triggers = connection.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE tgname = 'customer_audit'"
        ).fetchall()
    engine.dispose()
    assert customers == 150
    assert audited == 150
    assert defaults == [("migration",)]
    assert triggers == [("customer_audit",)]
    assert not any(
        dangling_foreign_keys(postgres_url, Metadata.from_database(postgres_url)).values()
    )


@pytest.mark.parametrize("target", ["postgresql", "duckdb", "mysql", "sqlite"])
def test_enum_values_carry_over(
    target: str, postgres_url: str, request: pytest.FixtureRequest
) -> None:
    """The example's PostgreSQL enum comes back with its labels from every target (a PostgreSQL
    target gets its own schema in the source database: --dst-schema)."""
    from hsa_db.example import write_example

    write_example(postgres_url)
    options = ["--scale", "0.3"]
    if target == "postgresql":
        dst, schema = postgres_url, "copy"
        options += ["--dst-schema", schema]
    else:
        dst, schema = request.getfixturevalue(f"{target}_url"), None

    clone(postgres_url, dst, *options)

    source = Metadata.from_database(postgres_url)
    cloned = Metadata.from_database(dst, schema=schema)
    status = source.tables["orders"].columns["status"]
    assert status.enum_values
    assert cloned.tables["orders"].columns["status"].enum_values == status.enum_values
    assert not any(dangling_foreign_keys(dst, source, schema=schema).values())
