"""The database summary: row counts and the text ``hsa-db inspect`` prints."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from hsa_db import inspect as inspect_module
from hsa_db.inspect import count_rows, describe, link_tables
from hsa_db.metadata import Metadata
from hsa_db.reflect import reflect_metadata


@pytest.mark.parametrize(
    ("database", "table", "rows"),
    [("chinook_pg", "invoice_line", 2240), ("chinook_sqlite", "InvoiceLine", 2240)],
)
def test_count_rows_counts_every_table(
    request: pytest.FixtureRequest, database: str, table: str, rows: int
) -> None:
    url = request.getfixturevalue(database)
    metadata = reflect_metadata(url)

    counts = count_rows(url, metadata)

    assert set(counts) == set(metadata.tables)
    assert counts[table] == rows
    assert sum(counts.values()) == 15607


def test_large_postgres_tables_use_the_estimate(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE big (id integer)")
        connection.exec_driver_sql("INSERT INTO big SELECT generate_series(1, 500)")
        connection.exec_driver_sql("CREATE TABLE parted (id integer) PARTITION BY RANGE (id)")
        for low in (0, 1000):
            connection.exec_driver_sql(
                f"CREATE TABLE parted_{low} PARTITION OF parted "
                f"FOR VALUES FROM ({low}) TO ({low + 1000})"
            )
        connection.exec_driver_sql("INSERT INTO parted SELECT generate_series(1, 1999, 5)")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE big")
        connection.exec_driver_sql("ANALYZE parted_0")
        connection.exec_driver_sql("ANALYZE parted_1000")
        connection.exec_driver_sql("INSERT INTO big SELECT generate_series(1, 100)")
        connection.exec_driver_sql("INSERT INTO parted SELECT generate_series(2, 1999, 5)")
    engine.dispose()
    metadata = reflect_metadata(postgres_url)

    exact = count_rows(postgres_url, metadata)
    monkeypatch.setattr(inspect_module, "ESTIMATE_ABOVE_ROWS", 100)
    estimated = count_rows(postgres_url, metadata)

    assert (exact["big"], estimated["big"]) == (600, 500)
    assert (exact["parted"], estimated["parted"]) == (800, 400)


def test_describe_northwind(northwind_pg: str) -> None:
    metadata = reflect_metadata(northwind_pg)

    text = describe(metadata, count_rows(northwind_pg, metadata))

    assert text.startswith("14 tables, 3,362 rows, 13 relationships")
    assert "order_details (2,155 rows)\n  primary key  (order_id, product_id)" in text
    assert "employees(reports_to) -> employees(employee_id)  [self-reference; nullable]" in text
    assert "Link tables: customer_customer_demo, employee_territories" in text
    assert "order_details (order_id, product_id)" in text.split("Composite primary keys:")[1]
    assert "customers: company_name (company), contact_name (name)" in text
    assert "region: categorical" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def cycle_metadata() -> Metadata:
    """Two tables in a cycle, a key to a unique column, a composite key, a table without key."""
    metadata = Metadata.load_from_dict(
        {
            "tables": {
                "department": {
                    "columns": {
                        "id": {"sdtype": "id", "nullable": False},
                        "code": {"sdtype": "id", "nullable": False},
                        "manager_id": {"sdtype": "id"},
                    },
                    "primary_key": "id",
                    "alternate_keys": ["code"],
                },
                "employee": {
                    "columns": {
                        "id": {"sdtype": "id", "nullable": False},
                        "department_code": {"sdtype": "id", "nullable": False},
                        "email": {"sdtype": "email"},
                    },
                    "primary_key": "id",
                },
                "badge": {
                    "columns": {
                        "employee_id": {"sdtype": "id", "nullable": False},
                        "number": {"sdtype": "id", "nullable": False},
                    },
                    "primary_key": ["employee_id", "number"],
                },
                "audit": {"columns": {"event": {"sdtype": "categorical"}}},
            },
            "relationships": [
                {
                    "parent_table_name": "employee",
                    "parent_primary_key": "id",
                    "child_table_name": "department",
                    "child_foreign_key": "manager_id",
                },
                {
                    "parent_table_name": "department",
                    "parent_primary_key": "code",
                    "child_table_name": "employee",
                    "child_foreign_key": "department_code",
                },
                {
                    "parent_table_name": "employee",
                    "parent_primary_key": "id",
                    "child_table_name": "badge",
                    "child_foreign_key": "employee_id",
                    "inferred": True,
                },
            ],
        }
    )
    metadata.validate()
    return metadata


def test_describe_marks_cycles_unique_keys_and_inferred_relationships() -> None:
    metadata = cycle_metadata()

    text = describe(metadata, {"department": 2, "employee": 5})

    assert text.startswith("4 tables, 7 rows, 3 relationships")
    assert "badge (rows unknown)" in text
    assert "department(manager_id) -> employee(id)  [nullable]" in text
    assert "employee(department_code) -> department(code)  [to a unique key, not the pr" in text
    assert "badge(employee_id) -> employee(id)  [inferred from column names]" in text
    assert "Cycle: department <-> employee" in text
    assert "Composite primary keys: badge (employee_id, number)" in text
    assert "Tables without a primary key: audit" in text
    assert "employee: email (email)" in text
    assert link_tables(metadata) == []


def test_describe_an_empty_database() -> None:
    assert (
        describe(Metadata(), {})
        == "0 tables, 0 rows, 0 relationships\n\nPII columns: none detected"
    )


def test_describe_a_folder_of_files(tmp_path: Path) -> None:
    (tmp_path / "authors.csv").write_text("author_id,name\n1,Ann\n2,Bo\n")
    (tmp_path / "books.csv").write_text("book_id,author_id,title\n1,1,Dawn\n2,1,Dusk\n3,2,Noon\n")
    metadata = reflect_metadata(str(tmp_path))

    text = describe(metadata, count_rows(str(tmp_path), metadata))

    assert "2 tables, 5 rows, 1 relationship" in text
    assert "books(author_id) -> authors(author_id)  [nullable; inferred from column names]" in text
