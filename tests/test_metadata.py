"""Metadata: building, validation, graph order and the SDV-style JSON round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsa_db import Metadata, MetadataError


def shop() -> Metadata:
    metadata = Metadata()
    metadata.add_table("customer")
    metadata.add_column("customer", "id", sdtype="id", sql_type="integer", nullable=False)
    metadata.add_column("customer", "email", sdtype="email", sql_type="varchar(80)")
    metadata.add_column("customer", "referred_by", sdtype="id", sql_type="integer")
    metadata.set_primary_key("customer", "id")
    metadata.add_unique_constraint("customer", "email")

    metadata.add_table("orders")
    metadata.add_column("orders", "id", sdtype="id", sql_type="integer", nullable=False)
    metadata.add_column("orders", "customer_id", sdtype="id", sql_type="integer")
    metadata.add_column(
        "orders",
        "status",
        sdtype="categorical",
        sql_type="enum",
        enum_values=["new", "paid"],
        enum_name="order_status",
    )
    metadata.set_primary_key("orders", "id")

    metadata.add_table("line")
    metadata.add_column("line", "order_id", sdtype="id", sql_type="integer", nullable=False)
    metadata.add_column("line", "line_no", sdtype="id", sql_type="smallint", nullable=False)
    metadata.set_primary_key("line", ["order_id", "line_no"])

    metadata.add_relationship("customer", "orders", "id", "customer_id")
    metadata.add_relationship("customer", "customer", "id", "referred_by")
    metadata.add_relationship("orders", "line", "id", "order_id")
    return metadata


def test_json_round_trip(tmp_path: Path) -> None:
    metadata = shop()
    metadata.validate()
    path = tmp_path / "metadata.json"
    metadata.save_to_json(path)

    assert Metadata.load_from_json(path) == metadata
    assert Metadata.load_from_dict(metadata.to_dict()).to_dict() == metadata.to_dict()
    assert metadata.to_dict()["tables"]["line"]["primary_key"] == ["order_id", "line_no"]
    assert metadata.to_dict()["tables"]["customer"]["alternate_keys"] == ["email"]


def test_save_refuses_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    path.write_text("{}")
    with pytest.raises(MetadataError, match="already exists"):
        shop().save_to_json(path)


def test_order_and_graph() -> None:
    metadata = shop()
    assert metadata.topological_order() == ["customer", "orders", "line"]
    assert [rel.child_table for rel in metadata.self_references()] == ["customer"]
    assert metadata.find_cycles() == []


def test_cycle_is_found_and_broken_at_the_nullable_key() -> None:
    metadata = Metadata()
    for name in ("a", "b"):
        metadata.add_table(name)
        metadata.add_column(name, "id", sdtype="id", nullable=False)
        metadata.set_primary_key(name, "id")
    metadata.add_column("a", "b_id", sdtype="id", nullable=False)
    metadata.add_column("b", "a_id", sdtype="id", nullable=True)
    metadata.add_relationship("b", "a", "id", "b_id")
    metadata.add_relationship("a", "b", "id", "a_id")

    assert metadata.find_cycles() == [["a", "b"]]
    assert metadata.topological_order() == ["b", "a"]


def test_validate_names_every_problem() -> None:
    metadata = shop()
    metadata.add_relationship("customer", "orders", "email_x", "customer_id")
    metadata.update_column("orders", "status", sdtype="colour")
    with pytest.raises(MetadataError) as error:
        metadata.validate()
    assert "email_x" in str(error.value) and "colour" in str(error.value)


def test_reference_to_unique_non_primary_key_is_valid() -> None:
    metadata = shop()
    metadata.add_column("orders", "contact", sdtype="email")
    metadata.add_relationship("customer", "orders", "email", "contact")
    metadata.validate()


def test_sdv_dict_drops_extensions() -> None:
    sdv = shop().to_sdv_dict()
    assert "primary_key" not in sdv["tables"]["line"]
    assert "sql_type" not in sdv["tables"]["customer"]["columns"]["id"]
    assert all(
        rel["child_table_name"] != "line" or rel["child_foreign_key"] == "order_id"
        for rel in sdv["relationships"]
    )


def test_unknown_table_message_lists_known_tables() -> None:
    with pytest.raises(MetadataError, match="known tables: customer, line, orders"):
        shop().get_table("nope")
