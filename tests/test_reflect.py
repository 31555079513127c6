"""Reflection of live schemas: sample databases, one schema in four dialects, PostgreSQL's
special types, folders of files, sdtype rules and the errors users can cause."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from hsa_db import DatabaseError, Metadata, MetadataError
from hsa_db.metadata import Column
from hsa_db.reflect import reflect_metadata
from hsa_db.sdtypes import detect_sdtype


def execute(url: str, statements: list[str]) -> None:
    """Run DDL/DML on a scratch database, then let go of it (DuckDB allows one writer)."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def dialect_of(url: str) -> str:
    return make_url(url).get_backend_name().replace("mariadb", "mysql")


def relationship_set(metadata: Metadata) -> set[tuple[str, tuple[str, ...], str, tuple[str, ...]]]:
    return {
        (rel.child_table, tuple(rel.child_columns), rel.parent_table, tuple(rel.parent_columns))
        for rel in metadata.relationships
    }


# --------------------------------------------------------------------------- sample databases

CHINOOK_RELATIONSHIPS = {
    ("album", ("artist_id",), "artist", ("artist_id",)),
    ("customer", ("support_rep_id",), "employee", ("employee_id",)),
    ("employee", ("reports_to",), "employee", ("employee_id",)),
    ("invoice", ("customer_id",), "customer", ("customer_id",)),
    ("invoice_line", ("invoice_id",), "invoice", ("invoice_id",)),
    ("invoice_line", ("track_id",), "track", ("track_id",)),
    ("playlist_track", ("playlist_id",), "playlist", ("playlist_id",)),
    ("playlist_track", ("track_id",), "track", ("track_id",)),
    ("track", ("album_id",), "album", ("album_id",)),
    ("track", ("genre_id",), "genre", ("genre_id",)),
    ("track", ("media_type_id",), "media_type", ("media_type_id",)),
}
CHINOOK_SQLITE_RELATIONSHIPS = {
    ("Album", ("ArtistId",), "Artist", ("ArtistId",)),
    ("Customer", ("SupportRepId",), "Employee", ("EmployeeId",)),
    ("Employee", ("ReportsTo",), "Employee", ("EmployeeId",)),
    ("Invoice", ("CustomerId",), "Customer", ("CustomerId",)),
    ("InvoiceLine", ("InvoiceId",), "Invoice", ("InvoiceId",)),
    ("InvoiceLine", ("TrackId",), "Track", ("TrackId",)),
    ("PlaylistTrack", ("PlaylistId",), "Playlist", ("PlaylistId",)),
    ("PlaylistTrack", ("TrackId",), "Track", ("TrackId",)),
    ("Track", ("AlbumId",), "Album", ("AlbumId",)),
    ("Track", ("GenreId",), "Genre", ("GenreId",)),
    ("Track", ("MediaTypeId",), "MediaType", ("MediaTypeId",)),
}
NORTHWIND_RELATIONSHIPS = {
    (
        "customer_customer_demo",
        ("customer_type_id",),
        "customer_demographics",
        ("customer_type_id",),
    ),
    ("customer_customer_demo", ("customer_id",), "customers", ("customer_id",)),
    ("employee_territories", ("employee_id",), "employees", ("employee_id",)),
    ("employee_territories", ("territory_id",), "territories", ("territory_id",)),
    ("employees", ("reports_to",), "employees", ("employee_id",)),
    ("order_details", ("order_id",), "orders", ("order_id",)),
    ("order_details", ("product_id",), "products", ("product_id",)),
    ("orders", ("customer_id",), "customers", ("customer_id",)),
    ("orders", ("employee_id",), "employees", ("employee_id",)),
    ("orders", ("ship_via",), "shippers", ("shipper_id",)),
    ("products", ("category_id",), "categories", ("category_id",)),
    ("products", ("supplier_id",), "suppliers", ("supplier_id",)),
    ("territories", ("region_id",), "region", ("region_id",)),
}
SAMPLES: dict[str, dict[str, Any]] = {
    "chinook_pg": {
        "relationships": CHINOOK_RELATIONSHIPS,
        "tables": 11,
        "link_table": ("playlist_track", ["playlist_id", "track_id"]),
        "pii": {("customer", "email"): "email", ("employee", "first_name"): "first_name"},
    },
    "chinook_sqlite": {
        "relationships": CHINOOK_SQLITE_RELATIONSHIPS,
        "tables": 11,
        "link_table": ("PlaylistTrack", ["PlaylistId", "TrackId"]),
        "pii": {("Customer", "Email"): "email", ("Invoice", "BillingPostalCode"): "postcode"},
    },
    "northwind_pg": {
        "relationships": NORTHWIND_RELATIONSHIPS,
        "tables": 14,
        "link_table": ("employee_territories", ["employee_id", "territory_id"]),
        "pii": {("customers", "contact_name"): "name", ("suppliers", "homepage"): "url"},
    },
}


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def sample(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Metadata]:
    """Each sample database's expectations and its reflected metadata (reflected once)."""
    url = request.getfixturevalue(request.param)
    return SAMPLES[request.param], reflect_metadata(url)


def test_sample_databases_reflect_every_table_and_foreign_key(
    sample: tuple[dict[str, Any], Metadata],
) -> None:
    expected, metadata = sample

    assert len(metadata.tables) == expected["tables"]
    assert relationship_set(metadata) == expected["relationships"]
    link, key = expected["link_table"]
    assert metadata.tables[link].primary_key == key
    assert set(metadata.tables[link].columns) == set(key)
    assert len(metadata.self_references()) == 1
    metadata.validate()


def test_sample_databases_detect_keys_and_pii(sample: tuple[dict[str, Any], Metadata]) -> None:
    expected, metadata = sample

    for (table, column), sdtype in expected["pii"].items():
        assert metadata.get_column(table, column).sdtype == sdtype
        assert metadata.get_column(table, column).pii
    for rel in metadata.relationships:
        for name in rel.child_columns:
            assert metadata.get_column(rel.child_table, name).sdtype == "id"
    for table in metadata.tables.values():
        for name in table.primary_key:
            assert table.columns[name].sdtype == "id"
            assert not table.columns[name].nullable


def test_sample_metadata_round_trips_through_dict_and_json(
    sample: tuple[dict[str, Any], Metadata], tmp_path: Path
) -> None:
    _, metadata = sample

    assert Metadata.load_from_dict(metadata.to_dict()).to_dict() == metadata.to_dict()
    metadata.save_to_json(tmp_path / "metadata.json")
    assert Metadata.load_from_json(tmp_path / "metadata.json") == metadata


def test_northwind_composite_key_and_self_reference(northwind_pg: str) -> None:
    metadata = Metadata.from_database(northwind_pg, tables=["order_details", "employees"])

    assert metadata.tables["order_details"].primary_key == ["order_id", "product_id"]
    assert relationship_set(metadata) == {
        ("employees", ("reports_to",), "employees", ("employee_id",))
    }
    assert metadata.get_column("employees", "photo").sql_type == "binary"
    assert metadata.get_column("employees", "region").sdtype == "categorical"
    assert metadata.schema is None


# ------------------------------------------------------------------ one schema, four dialects

PORTABLE_DDL = {
    "postgresql": [
        "CREATE TYPE customer_status AS ENUM ('new', 'active', 'gone')",
        "CREATE TABLE customer (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
        "email varchar(80) NOT NULL UNIQUE, first_name varchar(40), "
        "status customer_status NOT NULL, referred_by integer REFERENCES customer (id), "
        "created_at timestamp)",
        "CREATE TABLE product (sku varchar(12) PRIMARY KEY, name varchar(100), "
        "price numeric(10,2))",
        "CREATE TABLE orders (id integer PRIMARY KEY, customer_email varchar(80) NOT NULL "
        "REFERENCES customer (email), placed_on date, total numeric(10,2))",
        "CREATE INDEX orders_placed_on ON orders (placed_on)",
        "CREATE TABLE order_line (order_id integer NOT NULL REFERENCES orders (id), "
        "line_no integer NOT NULL, sku varchar(12) NOT NULL REFERENCES product (sku), "
        "quantity integer, PRIMARY KEY (order_id, line_no))",
        "CREATE TABLE department (id integer PRIMARY KEY, name varchar(40), manager_id integer)",
        "CREATE TABLE employee (id integer PRIMARY KEY, department_id integer NOT NULL "
        "REFERENCES department (id), last_name varchar(40))",
        "ALTER TABLE department ADD FOREIGN KEY (manager_id) REFERENCES employee (id)",
        "CREATE TABLE audit_log (event varchar(20), happened_at timestamp, detail text)",
    ],
    "mysql": [
        "CREATE TABLE customer (id integer AUTO_INCREMENT PRIMARY KEY, "
        "email varchar(80) NOT NULL UNIQUE, first_name varchar(40), "
        "status ENUM('new', 'active', 'gone') NOT NULL, referred_by integer, "
        "created_at datetime, FOREIGN KEY (referred_by) REFERENCES customer (id))",
        "CREATE TABLE product (sku varchar(12) PRIMARY KEY, name varchar(100), "
        "price numeric(10,2))",
        "CREATE TABLE orders (id integer PRIMARY KEY, customer_email varchar(80) NOT NULL, "
        "placed_on date, total numeric(10,2), "
        "FOREIGN KEY (customer_email) REFERENCES customer (email))",
        "CREATE INDEX orders_placed_on ON orders (placed_on)",
        "CREATE TABLE order_line (order_id integer NOT NULL, line_no integer NOT NULL, "
        "sku varchar(12) NOT NULL, quantity integer, PRIMARY KEY (order_id, line_no), "
        "FOREIGN KEY (order_id) REFERENCES orders (id), "
        "FOREIGN KEY (sku) REFERENCES product (sku))",
        "CREATE TABLE department (id integer PRIMARY KEY, name varchar(40), manager_id integer)",
        "CREATE TABLE employee (id integer PRIMARY KEY, department_id integer NOT NULL, "
        "last_name varchar(40), FOREIGN KEY (department_id) REFERENCES department (id))",
        "ALTER TABLE department ADD FOREIGN KEY (manager_id) REFERENCES employee (id)",
        "CREATE TABLE audit_log (event varchar(20), happened_at datetime, detail text)",
    ],
    "sqlite": [
        "CREATE TABLE customer (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "email varchar(80) NOT NULL UNIQUE, first_name varchar(40), "
        "status text NOT NULL CHECK (status IN ('new', 'active', 'gone')), "
        "referred_by integer REFERENCES customer (id), created_at timestamp)",
        "CREATE TABLE product (sku varchar(12) PRIMARY KEY, name varchar(100), "
        "price numeric(10,2))",
        "CREATE TABLE orders (id integer PRIMARY KEY, customer_email varchar(80) NOT NULL "
        "REFERENCES customer (email), placed_on date, total numeric(10,2))",
        "CREATE INDEX orders_placed_on ON orders (placed_on)",
        "CREATE TABLE order_line (order_id integer NOT NULL REFERENCES orders (id), "
        "line_no integer NOT NULL, sku varchar(12) NOT NULL REFERENCES product (sku), "
        "quantity integer, PRIMARY KEY (order_id, line_no))",
        "CREATE TABLE department (id integer PRIMARY KEY, name varchar(40), "
        "manager_id integer REFERENCES employee (id))",
        "CREATE TABLE employee (id integer PRIMARY KEY, department_id integer NOT NULL "
        "REFERENCES department (id), last_name varchar(40))",
        "CREATE TABLE audit_log (event varchar(20), happened_at timestamp, detail text)",
    ],
    # DuckDB cannot add a foreign key to an existing table, so it cannot close the cycle.
    "duckdb": [
        "CREATE TYPE customer_status AS ENUM ('new', 'active', 'gone')",
        "CREATE SEQUENCE customer_id_seq",
        "CREATE TABLE customer (id integer PRIMARY KEY DEFAULT nextval('customer_id_seq'), "
        "email varchar(80) NOT NULL UNIQUE, first_name varchar(40), "
        "status customer_status NOT NULL, referred_by integer REFERENCES customer (id), "
        "created_at timestamp)",
        "CREATE TABLE product (sku varchar(12) PRIMARY KEY, name varchar(100), "
        "price numeric(10,2))",
        "CREATE TABLE orders (id integer PRIMARY KEY, customer_email varchar(80) NOT NULL "
        "REFERENCES customer (email), placed_on date, total numeric(10,2))",
        "CREATE INDEX orders_placed_on ON orders (placed_on)",
        "CREATE TABLE order_line (order_id integer NOT NULL REFERENCES orders (id), "
        "line_no integer NOT NULL, sku varchar(12) NOT NULL REFERENCES product (sku), "
        "quantity integer, PRIMARY KEY (order_id, line_no))",
        "CREATE TABLE department (id integer PRIMARY KEY, name varchar(40), manager_id integer)",
        "CREATE TABLE employee (id integer PRIMARY KEY, department_id integer NOT NULL "
        "REFERENCES department (id), last_name varchar(40))",
        "CREATE TABLE audit_log (event varchar(20), happened_at timestamp, detail text)",
    ],
}
PORTABLE_ROWS = [
    "INSERT INTO customer (email, first_name, status) VALUES "
    "('ann@example.org', 'Ann', 'new'), ('bob@example.org', 'Bob', 'active'), "
    "('cy@example.org', 'Cy', 'active')",
    "INSERT INTO product (sku, name, price) VALUES ('A-1', 'Red chair', 10.50), "
    "('B-2', 'Blue table', 99.00), ('C-3', 'Green lamp', 20.25)",
    "INSERT INTO audit_log (event, detail) VALUES "
    "('login', 'The user signed in from a new device and confirmed the code by e-mail'), "
    "('logout', 'The session ended after thirty minutes without any activity at all'), "
    "('login', 'A second sign-in happened from the same device within a short while')",
]

# table -> column -> (sdtype, portable type, nullable, identity)
PORTABLE_COLUMNS = {
    "audit_log": {
        "event": ("categorical", "string", True, False),
        "happened_at": ("datetime", "timestamp", True, False),
        "detail": ("text", "string", True, False),
    },
    "customer": {
        "id": ("id", "integer", False, True),
        "email": ("email", "string", False, False),
        "first_name": ("first_name", "string", True, False),
        "status": ("categorical", "string", False, False),
        "referred_by": ("id", "integer", True, False),
        "created_at": ("datetime", "timestamp", True, False),
    },
    "department": {
        "id": ("id", "integer", False, False),
        "name": ("categorical", "string", True, False),
        "manager_id": ("id", "integer", True, False),
    },
    "employee": {
        "id": ("id", "integer", False, False),
        "department_id": ("id", "integer", False, False),
        "last_name": ("last_name", "string", True, False),
    },
    "order_line": {
        "order_id": ("id", "integer", False, False),
        "line_no": ("id", "integer", False, False),
        "sku": ("id", "string", False, False),
        "quantity": ("numerical", "integer", True, False),
    },
    "orders": {
        "id": ("id", "integer", False, False),
        "customer_email": ("id", "string", False, False),
        "placed_on": ("datetime", "date", True, False),
        "total": ("numerical", "numeric(10,2)", True, False),
    },
    "product": {
        "sku": ("id", "string", False, False),
        "name": ("categorical", "string", True, False),
        "price": ("numerical", "numeric(10,2)", True, False),
    },
}
PORTABLE_KEYS = {
    "audit_log": ([], []),
    "customer": (["id"], [["email"]]),
    "department": (["id"], []),
    "employee": (["id"], []),
    "order_line": (["order_id", "line_no"], []),
    "orders": (["id"], []),
    "product": (["sku"], []),
}
PORTABLE_RELATIONSHIPS = {
    ("customer", ("referred_by",), "customer", ("id",)),
    ("orders", ("customer_email",), "customer", ("email",)),
    ("order_line", ("order_id",), "orders", ("id",)),
    ("order_line", ("sku",), "product", ("sku",)),
    ("employee", ("department_id",), "department", ("id",)),
    ("department", ("manager_id",), "employee", ("id",)),
}


def portable_type(sql_type: str | None) -> str | None:
    """The part of a type every dialect keeps (DuckDB drops lengths; SQLite has no enums)."""
    if sql_type is not None and sql_type.startswith(("char", "varchar", "text", "enum")):
        return "string"
    return sql_type


def portable_columns(metadata: Metadata) -> dict[str, dict[str, tuple[Any, ...]]]:
    return {
        name: {
            column.name: (
                column.sdtype,
                portable_type(column.sql_type),
                column.nullable,
                column.identity,
            )
            for column in table.columns.values()
        }
        for name, table in metadata.tables.items()
    }


def test_one_schema_reflects_alike_in_every_dialect(empty_database: str) -> None:
    dialect = dialect_of(empty_database)
    execute(empty_database, PORTABLE_DDL[dialect] + PORTABLE_ROWS)

    metadata = reflect_metadata(empty_database)

    assert portable_columns(metadata) == PORTABLE_COLUMNS
    keys = {
        name: (table.primary_key, table.unique_constraints)
        for name, table in metadata.tables.items()
    }
    assert keys == PORTABLE_KEYS
    expected = set(PORTABLE_RELATIONSHIPS)
    if dialect == "duckdb":
        expected.discard(("department", ("manager_id",), "employee", ("id",)))
    assert relationship_set(metadata) == expected
    assert ["placed_on"] in [index["columns"] for index in metadata.tables["orders"].indexes]
    assert (metadata.find_cycles() == [["department", "employee"]]) == (dialect != "duckdb")
    metadata.validate()


def test_table_selection_and_exclusion(empty_database: str) -> None:
    execute(empty_database, PORTABLE_DDL[dialect_of(empty_database)])

    chosen = reflect_metadata(empty_database, tables=["orders", "customer"])
    rest = reflect_metadata(empty_database, exclude=["audit_log", "product"])

    assert list(chosen.tables) == ["customer", "orders"]
    assert relationship_set(chosen) == {
        ("customer", ("referred_by",), "customer", ("id",)),
        ("orders", ("customer_email",), "customer", ("email",)),
    }
    assert set(rest.tables) == {"customer", "department", "employee", "order_line", "orders"}
    assert ("order_line", ("sku",), "product", ("sku",)) not in relationship_set(rest)


# --------------------------------------------------------------------------- types per dialect

TYPE_CASES: dict[str, tuple[str, dict[str, str]]] = {
    "postgresql": (
        "CREATE TABLE t (a boolean, b smallint, c bigint, d real, e double precision, "
        "f numeric(8,3), g numeric, h char(3), i varchar(9), j text, k date, l time, "
        "m timestamp, n timestamptz, o interval, p uuid, q json, r jsonb, s bytea, "
        "t integer[], u text[], v money, w inet)",
        {
            "a": "boolean",
            "b": "smallint",
            "c": "bigint",
            "d": "real",
            "e": "double",
            "f": "numeric(8,3)",
            "g": "numeric",
            "h": "char(3)",
            "i": "varchar(9)",
            "j": "text",
            "k": "date",
            "l": "time",
            "m": "timestamp",
            "n": "timestamptz",
            "o": "interval",
            "p": "uuid",
            "q": "json",
            "r": "json",
            "s": "binary",
            "t": "integer[]",
            "u": "text[]",
            "v": "numeric",
            "w": "text",
        },
    ),
    "mysql": (
        "CREATE TABLE t (a tinyint(1), b tinyint, c smallint unsigned, d int unsigned, "
        "e bigint unsigned, f float, g double, h decimal(8,3), i json, j blob, k varbinary(8), "
        "l year, m enum('x', 'y'), n set('p', 'q'), o char(3), p varchar(9), q longtext, "
        "r time, s datetime, u date, v uuid, w int GENERATED ALWAYS AS (b + 1) STORED)",
        {
            "a": "boolean",
            "b": "smallint",
            "c": "integer",
            "d": "bigint",
            "e": "numeric(20,0)",
            "f": "real",
            "g": "double",
            "h": "numeric(8,3)",
            "i": "json",
            "j": "binary",
            "k": "binary",
            "l": "smallint",
            "m": "enum",
            "n": "text",
            "o": "char(3)",
            "p": "varchar(9)",
            "q": "text",
            "r": "time",
            "s": "timestamp",
            "u": "date",
            "v": "uuid",
            "w": "integer",
        },
    ),
    "sqlite": (
        "CREATE TABLE t (a boolean, b uuid, c timestamptz, d json, e blob, f real, "
        "g double precision, h numeric(8,3), i char(3), j varchar(9), k text, l datetime, "
        "m date, n time, o interval, p bigint, q smallint, r integer, "
        "s int GENERATED ALWAYS AS (r * 2) VIRTUAL)",
        {
            "a": "boolean",
            "b": "uuid",
            "c": "timestamptz",
            "d": "json",
            "e": "binary",
            "f": "real",
            "g": "double",
            "h": "numeric(8,3)",
            "i": "char(3)",
            "j": "varchar(9)",
            "k": "text",
            "l": "timestamp",
            "m": "date",
            "n": "time",
            "o": "interval",
            "p": "bigint",
            "q": "smallint",
            "r": "integer",
            "s": "integer",
        },
    ),
    "duckdb": (
        "CREATE TABLE t (a boolean, b tinyint, c utinyint, d ubigint, e hugeint, f float, "
        "g double, h decimal(8,3), i json, j blob, k uuid, l varchar, m interval, "
        "n timestamptz, o timestamp, p date, q time, r integer[], s struct(x integer), "
        "u map(varchar, integer), v enum('x', 'y'), w integer GENERATED ALWAYS AS (b + 1))",
        {
            "a": "boolean",
            "b": "smallint",
            "c": "smallint",
            "d": "numeric(20,0)",
            "e": "numeric(38,0)",
            "f": "real",
            "g": "double",
            "h": "numeric(8,3)",
            "i": "json",
            "j": "binary",
            "k": "uuid",
            "l": "varchar",
            "m": "interval",
            "n": "timestamptz",
            "o": "timestamp",
            "p": "date",
            "q": "time",
            "r": "integer[]",
            "s": "json",
            "u": "json",
            "v": "enum",
            "w": "integer",
        },
    ),
}


# dialect -> (generated column, text its expression contains)
GENERATED = {"mysql": ("w", "`b` + 1"), "sqlite": ("s", "r * 2"), "duckdb": ("w", "b + 1")}


def test_types_map_to_the_neutral_vocabulary(empty_database: str) -> None:
    dialect = dialect_of(empty_database)
    ddl, expected = TYPE_CASES[dialect]
    execute(empty_database, [ddl])

    table = reflect_metadata(empty_database).tables["t"]

    assert {name: column.sql_type for name, column in table.columns.items()} == expected
    if dialect in GENERATED:
        name, expression = GENERATED[dialect]
        assert expression in (table.columns[name].generated or "")
        assert table.columns[name].default is None


# --------------------------------------------------------------------------- PostgreSQL specifics

POSTGRES_SPECIFICS = [
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
    "CREATE DOMAIN email_address AS varchar(80) CHECK (position('@' in VALUE) > 0)",
    "CREATE DOMAIN positive AS integer CHECK (VALUE > 0)",
    "CREATE TABLE person (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
    "number serial, feeling mood NOT NULL DEFAULT 'ok', email email_address, "
    "shoe_size positive, tags text[], scores integer[], moods mood[], profile jsonb, "
    "settings json, token uuid DEFAULT gen_random_uuid(), avatar bytea, "
    "double_size integer GENERATED ALWAYS AS (shoe_size * 2) STORED, "
    "nickname varchar(20) DEFAULT 'none')",
    "CREATE TABLE measurement (sensor integer, taken date, value real, "
    "PRIMARY KEY (sensor, taken)) PARTITION BY RANGE (taken)",
    "CREATE TABLE measurement_2020 PARTITION OF measurement "
    "FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')",
    "CREATE TABLE measurement_2021 PARTITION OF measurement "
    "FOR VALUES FROM ('2021-01-01') TO ('2022-01-01')",
    "CREATE VIEW person_names AS SELECT id, email FROM person",
    "CREATE MATERIALIZED VIEW person_count AS SELECT count(*) FROM person",
    "CREATE SCHEMA sales",
    "CREATE TABLE sales.region (code char(2) PRIMARY KEY, label text)",
    "CREATE TABLE sales.deal (id integer PRIMARY KEY, region char(2) REFERENCES sales.region, "
    "person_id bigint REFERENCES public.person (id))",
]


@pytest.fixture
def postgres_specifics(postgres_url: str) -> str:
    execute(postgres_url, POSTGRES_SPECIFICS)
    return postgres_url


def test_postgres_types_and_objects(postgres_specifics: str) -> None:
    metadata = reflect_metadata(postgres_specifics)
    person = metadata.tables["person"]
    column = person.columns

    assert sorted(metadata.tables) == ["measurement", "person"]
    assert metadata.tables["measurement"].primary_key == ["sensor", "taken"]
    assert column["id"].identity and column["id"].default is None
    assert column["number"].identity and column["number"].sql_type == "integer"
    assert (column["feeling"].sql_type, column["feeling"].enum_name) == ("enum", "mood")
    assert column["feeling"].enum_values == ["sad", "ok", "happy"]
    assert column["feeling"].default == "'ok'" and not column["feeling"].nullable
    assert column["feeling"].sdtype == "categorical"
    assert (column["email"].sql_type, column["email"].extra) == (
        "varchar(80)",
        {"domain": "email_address"},
    )
    assert column["shoe_size"].sql_type == "integer"
    assert [column[name].sql_type for name in ("tags", "scores", "moods")] == [
        "text[]",
        "integer[]",
        "enum[]",
    ]
    assert column["moods"].enum_values == ["sad", "ok", "happy"]
    assert [column[name].sql_type for name in ("profile", "settings", "token", "avatar")] == [
        "json",
        "json",
        "uuid",
        "binary",
    ]
    assert [column[name].sdtype for name in ("tags", "profile", "avatar")] == ["unknown"] * 3
    assert "shoe_size" in (column["double_size"].generated or "")
    assert column["nickname"].default == "'none'"


def test_postgres_other_schema(postgres_specifics: str) -> None:
    metadata = reflect_metadata(postgres_specifics, schema="sales")

    assert metadata.schema == "sales"
    assert sorted(metadata.tables) == ["deal", "region"]
    # The key to public.person leaves the schema: it is left out, the column stays.
    assert relationship_set(metadata) == {("deal", ("region",), "region", ("code",))}
    assert metadata.get_column("deal", "region").sql_type == "char(2)"


# --------------------------------------------------------------------------- folders of files


@pytest.fixture
def shop_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "customers.csv").write_text(
        "id,name,email,country\n1,Ann Lee,ann@example.org,France\n2,Bo Chen,bo@example.org,Spain\n"
    )
    (folder / "orders.csv").write_text(
        "order_id,customer_id,amount,placed_at,paid\n"
        "10,1,9.5,2020-01-01 10:00:00,true\n11,1,3.25,2020-01-02 11:00:00,false\n"
        "12,2,,2020-01-03 12:00:00,\n"
    )
    engine = sa.create_engine("duckdb:///:memory:")
    with engine.connect() as connection:
        target = str(folder / "order_lines.parquet").replace("'", "''")
        connection.exec_driver_sql(
            "COPY (SELECT * FROM (VALUES (1, 10, 'A-1'), (2, 10, 'B-2'), (3, 12, 'A-1')) "
            f"AS t(line_id, order_id, sku)) TO '{target}' (FORMAT PARQUET)"
        )
    engine.dispose()
    (folder / "notes.txt").write_text("not a table")
    return folder


def test_folder_of_files_infers_keys_and_relationships(shop_folder: Path) -> None:
    metadata = reflect_metadata(str(shop_folder))

    assert sorted(metadata.tables) == ["customers", "order_lines", "orders"]
    assert metadata.tables["customers"].primary_key == ["id"]
    assert metadata.tables["orders"].primary_key == ["order_id"]
    assert metadata.tables["order_lines"].primary_key == []  # line_id is not <table>_id
    assert relationship_set(metadata) == {
        ("orders", ("customer_id",), "customers", ("id",)),
        ("order_lines", ("order_id",), "orders", ("order_id",)),
    }
    assert all(rel.inferred for rel in metadata.relationships)
    assert metadata.get_column("orders", "paid").sql_type == "boolean"
    assert metadata.get_column("orders", "placed_at").sdtype == "datetime"
    assert metadata.get_column("customers", "email").sdtype == "email"
    assert Metadata.load_from_dict(metadata.to_dict()) == metadata


def test_folder_without_files_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="holds no .csv or .parquet files"):
        reflect_metadata(str(tmp_path))


# --------------------------------------------------------------------------- sdtype rules


@pytest.mark.parametrize(
    ("name", "sql_type", "values", "flags", "expected"),
    [
        ("customer_id", "integer", None, {"is_reference": True}, "id"),
        ("code", "char(5)", ["ALFKI", "ANATR"], {"is_reference": True}, "id"),
        ("external_id", "bigint", None, {}, "id"),
        ("token", "uuid", None, {}, "id"),
        ("amount", "numeric(10,2)", None, {}, "numerical"),
        ("waited", "interval", None, {}, "numerical"),
        ("active", "boolean", None, {}, "boolean"),
        ("born", "date", None, {}, "datetime"),
        ("mood", "enum", None, {}, "categorical"),
        ("payload", "json", None, {}, "unknown"),
        ("tags", "text[]", None, {}, "unknown"),
        ("EmailAddress", "varchar(60)", ["a@b.org"], {}, "email"),
        ("contact", "varchar(60)", ["a@b.org", "c@d.com"], {}, "email"),
        ("home_phone", "varchar(24)", None, {}, "phone_number"),
        ("fax", "varchar(24)", None, {}, "phone_number"),
        ("FirstName", "varchar(40)", None, {}, "first_name"),
        ("surname", "varchar(40)", None, {}, "last_name"),
        ("contact_name", "varchar(40)", None, {}, "name"),
        ("BillingPostalCode", "varchar(10)", None, {}, "postcode"),
        ("zip", "varchar(10)", None, {}, "postcode"),
        ("ip_address", "varchar(45)", None, {}, "ipv4_address"),
        ("homepage", "text", None, {}, "url"),
        ("username", "varchar(30)", None, {"is_unique": True}, "user_name"),
        ("sku", "varchar(12)", ["A-1", "B-2"], {"is_unique": True}, "id"),
        ("country", "char(2)", ["US", "FR"], {"is_unique": True}, "country_code"),
        ("country", "varchar(20)", ["USA", "France"], {}, "country"),
        ("ship_state", "varchar(20)", ["WA", "OR"], {"address_context": True}, "state_abbr"),
        ("code", "char(2)", ["US", "FR"], {"is_unique": True}, "id"),
        ("label", "varchar(20)", ["Books", "Toys"], {"is_unique": True}, "categorical"),
        ("region", "varchar(15)", ["WA", "BC", "WA", None], {}, "categorical"),
        ("state", "varchar(15)", ["open", "shut"], {}, "categorical"),
        ("state", "varchar(15)", ["Ohio", "Utah"], {"address_context": True}, "state"),
        ("status", "varchar(10)", ["new", "old"] * 100, {}, "categorical"),
        ("title", "varchar(200)", [f"Song number {i}" for i in range(200)], {}, "text"),
        ("notes", "text", ["A long sentence that goes on well past forty characters."], {}, "text"),
    ],
)
def test_sdtype_rules(
    name: str, sql_type: str, values: list[Any] | None, flags: dict[str, bool], expected: str
) -> None:
    column = Column(name=name, sql_type=sql_type)
    assert detect_sdtype(column, values, **flags) == expected


def test_name_is_pii_only_in_a_table_of_people() -> None:
    column = Column(name="name", sql_type="varchar(40)")
    values = [f"value {i}" for i in range(100)]

    assert detect_sdtype(column, values, table_name="customers") == "name"
    assert detect_sdtype(column, values, table_name="artist") == "text"


# --------------------------------------------------------------------------- errors


def test_unknown_schema_lists_the_schemas(chinook_pg: str) -> None:
    with pytest.raises(MetadataError, match=r"schema 'nope' does not exist .*schemas there: "):
        reflect_metadata(chinook_pg, schema="nope")


@pytest.mark.parametrize("option", ["tables", "exclude"])
def test_unknown_table_lists_the_tables(chinook_sqlite: str, option: str) -> None:
    with pytest.raises(MetadataError, match=r"no table 'Tracks' in schema 'main' .*: Album, "):
        reflect_metadata(chinook_sqlite, **{option: ["Tracks"]})


def test_schema_of_a_folder_is_an_error(shop_folder: Path) -> None:
    with pytest.raises(MetadataError, match="folder of files"):
        reflect_metadata(str(shop_folder), schema="sales")


@pytest.fixture(
    params=["unreachable", "wrong_password", "unknown_database", "missing_file", "not_a_url"]
)
def bad_source(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """A source a user might mistype, with the words its error must contain."""
    case = request.param
    if case == "unreachable":
        return "postgresql://postgres@127.0.0.1:1/app", "cannot reach 127.0.0.1:1"
    if case == "wrong_password":
        mysql_server = request.getfixturevalue("mysql_server")
        url = make_url(mysql_server).set(password="not-the-password")
        return url.render_as_string(hide_password=False), "wrong user or password"
    if case == "unknown_database":
        postgres_server = request.getfixturevalue("postgres_server")
        url = make_url(postgres_server).set(database="no_such_database_here")
        return url.render_as_string(hide_password=False), "'no_such_database_here' does not"
    if case == "missing_file":
        return str(tmp_path / "missing.sqlite"), "does not exist"
    return "this is not a url", "neither a URL nor a database file"


def test_bad_sources_give_one_line_errors(bad_source: tuple[str, str]) -> None:
    source, words = bad_source

    with pytest.raises(DatabaseError) as error:
        reflect_metadata(source)

    message = str(error.value)
    assert words in message
    assert "\n" not in message
    assert "not-the-password" not in message
