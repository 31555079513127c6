"""The clone configuration file: YAML and TOML, validation against the metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsa_db import ConfigError
from hsa_db.config import apply_to_metadata, load_config, parse_config
from tests.test_metadata import shop

YAML = """
locales: [en_US, fr_CA]
num_clusters: 4
tables:
  customer:
    scale: 0.5
    columns:
      email: {sdtype: email}
      referred_by: {provider: phone_number}
  orders:
    synthesizer: GaussianCopulaSynthesizer
    parameters: {default_distribution: beta}
"""

TOML = """
locales = ["en_US"]
[tables.customer]
scale = 2
num_clusters = 5
[tables.customer.columns.email]
sdtype = "email"
"""


def test_yaml_and_toml(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(YAML)
    (tmp_path / "c.toml").write_text(TOML)

    from_yaml = load_config(tmp_path / "c.yaml")
    from_toml = load_config(tmp_path / "c.toml")

    assert from_yaml.locales == ["en_US", "fr_CA"]
    assert from_yaml.tables["customer"].scale == 0.5
    assert from_yaml.tables["orders"].parameters == {"default_distribution": "beta"}
    assert from_toml.tables["customer"].num_clusters == 5


def test_apply_sets_sdtypes_and_providers() -> None:
    metadata = shop()
    apply_to_metadata(
        parse_config(
            {"tables": {"customer": {"columns": {"referred_by": {"provider": "phone_number"}}}}}
        ),
        metadata,
    )
    column = metadata.tables["customer"].columns["referred_by"]
    assert column.pii and column.extra["provider"] == "phone_number"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"tabels": {}}, "unknown setting 'tabels'"),
        ({"tables": {"customer": {"scale": -1}}}, "number of 0 or more"),
        (
            {"tables": {"customer": {"columns": {"email": {"sdtype": "mail"}}}}},
            "unknown sdtype 'mail'",
        ),
        ({"num_clusters": 0}, "whole number of 1 or more"),
        ({"relationships": [{"parent": "a"}]}, "lacks child, child_key, parent_key"),
    ],
)
def test_bad_settings_are_named(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_unknown_table_or_column_is_refused() -> None:
    with pytest.raises(ConfigError, match="not being cloned"):
        apply_to_metadata(parse_config({"tables": {"nope": {}}}), shop())
    with pytest.raises(ConfigError, match="does not exist"):
        apply_to_metadata(
            parse_config({"tables": {"customer": {"columns": {"x": {"sdtype": "text"}}}}}), shop()
        )


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("tables: [unclosed")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(tmp_path / "bad.yaml")
