"""Small hand-made databases for the synthesizer tests, each with the structure under test.

``make_store`` has every hard case at once: a self-reference, a cycle through two nullable
keys, a composite primary key referenced by a composite foreign key, a pure link table, an
empty table, a table without a primary key, an all-NULL column, a unique PII column, a unique
categorical column, text, JSON, binary, UUID and decimal columns, and a child count and a
grandchild column that depend on a root column.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import numpy as np
import pandas as pd

from hsa_db.metadata import Metadata


def _column(
    metadata: Metadata,
    table: str,
    name: str,
    sdtype: str,
    sql_type: str,
    nullable: bool = True,
    **extra: object,
) -> None:
    metadata.add_column(table, name, sdtype=sdtype, sql_type=sql_type, nullable=nullable, **extra)


def store_metadata() -> Metadata:
    """The store's tables, keys and relationships."""
    md = Metadata()
    for table, columns in {
        "department": [
            ("department_id", "id", "integer", False),
            ("name", "categorical", "varchar(20)", False),
            ("head_id", "id", "integer", True),
        ],
        "employee": [
            ("employee_id", "id", "integer", False),
            ("name", "name", "varchar(40)", False),
            ("manager_id", "id", "integer", True),
            ("department_id", "id", "integer", True),
            ("salary", "numerical", "numeric(10,2)", False),
        ],
        "customer": [
            ("customer_id", "id", "integer", False),
            ("email", "email", "varchar(60)", False),
            ("tier", "categorical", "varchar(10)", False),
            ("joined", "datetime", "date", True),
            ("score", "numerical", "double", True),
            ("vip", "boolean", "boolean", True),
            ("legacy_code", "categorical", "varchar(10)", True),
            ("external_id", "id", "uuid", True),
        ],
        "product": [
            ("sku", "id", "char(6)", False),
            ("price", "numerical", "real", False),
            ("attributes", "unknown", "json", True),
            ("thumbnail", "unknown", "binary", True),
            ("description", "text", "text", True),
        ],
        "orders": [
            ("order_id", "id", "bigint", False),
            ("customer_id", "id", "integer", False),
            ("employee_id", "id", "integer", True),
            ("placed_at", "datetime", "timestamptz", False),
            ("status", "categorical", "enum", False),
        ],
        "order_line": [
            ("order_id", "id", "bigint", False),
            ("line_no", "id", "smallint", False),
            ("sku", "id", "char(6)", False),
            ("quantity", "numerical", "smallint", False),
            ("discount", "numerical", "double", False),
        ],
        "tag": [("tag_id", "id", "integer", False), ("label", "categorical", "varchar(12)", False)],
        "product_tag": [("sku", "id", "char(6)", False), ("tag_id", "id", "integer", False)],
        "audit": [("order_id", "id", "bigint", True), ("note", "categorical", "varchar(20)", True)],
        "return_item": [
            ("return_id", "id", "integer", False),
            ("order_id", "id", "bigint", False),
            ("line_no", "id", "smallint", False),
            ("reason", "categorical", "varchar(10)", True),
        ],
        "coupon": [
            ("coupon_id", "id", "integer", False),
            ("code", "categorical", "varchar(8)", False),
        ],
    }.items():
        md.add_table(table)
        for name, sdtype, sql_type, nullable in columns:
            _column(md, table, name, sdtype, sql_type, nullable)
    md.update_column("orders", "status", enum_values=["new", "paid", "shipped"])

    keys: dict[str, str | list[str]] = {
        "department": "department_id",
        "employee": "employee_id",
        "customer": "customer_id",
        "product": "sku",
        "orders": "order_id",
        "order_line": ["order_id", "line_no"],
        "tag": "tag_id",
        "product_tag": ["sku", "tag_id"],
        "coupon": "coupon_id",
        "return_item": "return_id",
    }
    for table, key in keys.items():
        md.set_primary_key(table, key)
    md.add_unique_constraint("customer", "email")
    md.add_unique_constraint("tag", "label")
    relationships: list[tuple[str, str, str | list[str], str | list[str]]] = [
        ("employee", "department", "employee_id", "head_id"),
        ("department", "employee", "department_id", "department_id"),
        ("employee", "employee", "employee_id", "manager_id"),
        ("customer", "orders", "customer_id", "customer_id"),
        ("employee", "orders", "employee_id", "employee_id"),
        ("orders", "order_line", "order_id", "order_id"),
        ("product", "order_line", "sku", "sku"),
        ("product", "product_tag", "sku", "sku"),
        ("tag", "product_tag", "tag_id", "tag_id"),
        ("orders", "audit", "order_id", "order_id"),
        ("order_line", "return_item", ["order_id", "line_no"], ["order_id", "line_no"]),
    ]
    for parent, child, parent_key, child_key in relationships:
        md.add_relationship(parent, child, parent_key, child_key)
    md.validate()
    return md


def make_store(seed: int = 0, customers: int = 150) -> tuple[Metadata, dict[str, pd.DataFrame]]:
    """The store's metadata and rows; gold customers order more and get larger discounts."""
    rng = np.random.default_rng(seed)
    data: dict[str, pd.DataFrame] = {}
    data["department"] = pd.DataFrame(
        {
            "department_id": pd.array([1, 2, 3, 4], dtype="Int32"),
            "name": ["sales", "support", "it", "admin"],
            "head_id": pd.array([1, 3, None, 6], dtype="Int32"),
        }
    )
    managers = [None, 1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 6]
    data["employee"] = pd.DataFrame(
        {
            "employee_id": pd.array(range(1, 13), dtype="Int32"),
            "name": [f"Person {i}" for i in range(12)],
            "manager_id": pd.array(managers, dtype="Int32"),
            "department_id": pd.array(
                np.array([1, 2, 3, 4, None], dtype=object)[rng.integers(0, 5, 12)], dtype="Int32"
            ),
            "salary": [decimal.Decimal(f"{v:.2f}") for v in rng.uniform(30000, 90000, 12)],
        }
    )
    data["customer"] = _customers(rng, customers)
    data["product"] = _products(rng)
    data["orders"], data["order_line"] = _orders(rng, data["customer"], data["product"])
    data["tag"] = pd.DataFrame(
        {"tag_id": pd.array(range(1, 9), dtype="Int32"), "label": [f"tag{i}" for i in range(8)]}
    )
    data["product_tag"] = _product_tags(rng, data["product"])
    audited = data["orders"]["order_id"].sample(40, random_state=seed).tolist() + [None] * 10
    data["audit"] = pd.DataFrame(
        {
            "order_id": pd.array(audited, dtype="Int64"),
            "note": np.array(["checked", "flagged", None], dtype=object)[
                rng.integers(0, 3, len(audited))
            ],
        }
    )
    returned = data["order_line"].sample(30, random_state=seed)
    data["return_item"] = pd.DataFrame(
        {
            "return_id": pd.array(range(1, 31), dtype="Int32"),
            "order_id": returned["order_id"].to_numpy(),
            "line_no": returned["line_no"].to_numpy(),
            "reason": np.array(["broken", "late", None], dtype=object)[rng.integers(0, 3, 30)],
        }
    )
    data["coupon"] = pd.DataFrame(
        {"coupon_id": pd.array([], dtype="Int32"), "code": pd.Series([], dtype=object)}
    )
    return store_metadata(), data


def _customers(rng: np.random.Generator, count: int) -> pd.DataFrame:
    tiers = rng.choice(["bronze", "silver", "gold"], count, p=[0.6, 0.3, 0.1])
    joined = [dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, count)]
    scores = np.where(rng.random(count) < 0.2, np.nan, rng.normal(50, 10, count))
    return pd.DataFrame(
        {
            "customer_id": pd.array(range(1, count + 1), dtype="Int32"),
            "email": [f"user{i}@example.com" for i in range(count)],
            "tier": tiers,
            "joined": pd.Series(
                [None if i % 10 == 0 else d for i, d in enumerate(joined)], dtype=object
            ),
            "score": scores,
            "vip": pd.array(
                np.array([True, False, None], dtype=object)[rng.integers(0, 3, count)],
                dtype="boolean",
            ),
            "legacy_code": pd.Series([None] * count, dtype=object),
            "external_id": pd.Series(
                [str(uuid.UUID(int=int(rng.integers(0, 2**62)), version=4)) for _ in range(count)],
                dtype=object,
            ),
        }
    )


def _products(rng: np.random.Generator) -> pd.DataFrame:
    count = 40
    skus = [f"AB{n:04d}" for n in rng.choice(10_000, count, replace=False)]
    return pd.DataFrame(
        {
            "sku": skus,
            "price": rng.lognormal(3, 0.5, count),
            "attributes": [json.dumps({"colour": "red"}) if i % 3 else None for i in range(count)],
            "thumbnail": [bytes(rng.integers(0, 256, 20, dtype=np.uint8)) for _ in range(count)],
            "description": [f"A fine product number {i} with words" for i in range(count)],
        }
    )


def _orders(
    rng: np.random.Generator, customers: pd.DataFrame, products: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    mean_orders = customers["tier"].map({"bronze": 1.0, "silver": 3.0, "gold": 8.0})
    counts = rng.poisson(mean_orders.to_numpy())
    owner = np.repeat(customers["customer_id"].to_numpy(dtype=int), counts)
    tier = np.repeat(customers["tier"].to_numpy(), counts)
    placed = pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 10**7, len(owner)), unit="s"
    )
    orders = pd.DataFrame(
        {
            "order_id": pd.array(range(1, len(owner) + 1), dtype="Int64"),
            "customer_id": pd.array(owner, dtype="Int32"),
            "employee_id": pd.array(
                np.array([*range(1, 13), None], dtype=object)[rng.integers(0, 13, len(owner))],
                dtype="Int32",
            ),
            "placed_at": pd.Series(placed, dtype="datetime64[ns, UTC]"),
            "status": rng.choice(["new", "paid", "shipped"], len(owner)),
        }
    )

    lines = rng.integers(1, 4, len(owner))
    order_ids = np.repeat(orders["order_id"].to_numpy(dtype=int), lines)
    line_no = np.concatenate([np.arange(1, n + 1) for n in lines])
    discount = np.repeat(
        pd.Series(tier).map({"bronze": 0.02, "silver": 0.1, "gold": 0.25}).to_numpy(), lines
    ) + rng.normal(0, 0.01, len(order_ids))
    skus = products["sku"].to_numpy()
    picked = [rng.choice(skus, n, replace=False) for n in lines]
    order_line = pd.DataFrame(
        {
            "order_id": pd.array(order_ids, dtype="Int64"),
            "line_no": pd.array(line_no, dtype="Int16"),
            "sku": np.concatenate(picked) if picked else [],
            "quantity": pd.array(rng.integers(1, 5, len(order_ids)), dtype="Int16"),
            "discount": discount.round(3),
        }
    )
    return orders, order_line


def _product_tags(rng: np.random.Generator, products: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for sku in products["sku"]:
        for tag in rng.choice(range(1, 9), int(rng.integers(1, 5)), replace=False):
            rows.append((sku, int(tag)))
    frame = pd.DataFrame(rows, columns=["sku", "tag_id"])
    frame["tag_id"] = frame["tag_id"].astype("Int32")
    return frame
