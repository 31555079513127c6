"""The clone configuration file: per-table scale and synthesizer, per-column sdtype or PII
provider, and relationships for sources that declare none (folders of CSV or Parquet files).

Example (YAML; the same keys work in TOML)::

    locales: [en_US, fr_CA]
    num_clusters: 4
    tables:
      customer:
        scale: 0.5
        num_clusters: 6
        synthesizer: GaussianCopulaSynthesizer
        parameters: {default_distribution: beta}
        columns:
          email: {sdtype: email}
          notes: {sdtype: text}
    relationships:
      - {parent: customer, parent_key: id, child: invoice, child_key: customer_id}
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hsa_db.errors import ConfigError
from hsa_db.metadata import SDTYPES, Metadata

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_TABLE_KEYS = {"scale", "num_clusters", "synthesizer", "parameters", "columns"}
_COLUMN_KEYS = {"sdtype", "provider"}
_TOP_KEYS = {"locales", "num_clusters", "tables", "relationships"}


@dataclass
class TableConfig:
    """What the user set for one table."""

    scale: float | None = None
    num_clusters: int | None = None
    synthesizer: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class CloneConfig:
    """The whole configuration file."""

    locales: list[str] | None = None
    num_clusters: int | None = None
    tables: dict[str, TableConfig] = field(default_factory=dict)
    relationships: list[dict[str, Any]] = field(default_factory=list)


def load_config(path: str | Path) -> CloneConfig:
    """Read a YAML, TOML or JSON configuration file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; check the path")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            raw = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text) or {}
    except Exception as error:  # each parser has its own error class
        first = str(error).splitlines()[0]
        raise ConfigError(f"cannot parse config file {str(path)!r}: {first}") from None
    return parse_config(raw, source=str(path))


def parse_config(raw: Any, source: str = "config") -> CloneConfig:
    """Check the shape of a parsed configuration and build a :class:`CloneConfig`."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of settings")
    _refuse_unknown(raw, _TOP_KEYS, source)

    tables = {}
    for name, entry in (raw.get("tables") or {}).items():
        where = f"{source}: tables.{name}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a mapping of settings")
        _refuse_unknown(entry, _TABLE_KEYS, where)
        columns = entry.get("columns") or {}
        for column, settings in columns.items():
            if not isinstance(settings, dict):
                raise ConfigError(
                    f"{where}.columns.{column} must be a mapping such as {{sdtype: email}}"
                )
            _refuse_unknown(settings, _COLUMN_KEYS, f"{where}.columns.{column}")
            sdtype = settings.get("sdtype")
            if sdtype is not None and sdtype not in SDTYPES:
                raise ConfigError(
                    f"{where}.columns.{column}: unknown sdtype {sdtype!r}; "
                    f"use one of {', '.join(sorted(SDTYPES))}"
                )
        tables[name] = TableConfig(
            scale=_positive(entry.get("scale"), f"{where}.scale"),
            num_clusters=_cluster_count(entry.get("num_clusters"), f"{where}.num_clusters"),
            synthesizer=entry.get("synthesizer"),
            parameters=dict(entry.get("parameters") or {}),
            columns={column: dict(settings) for column, settings in columns.items()},
        )

    relationships = list(raw.get("relationships") or [])
    for entry in relationships:
        missing = {"parent", "parent_key", "child", "child_key"} - set(entry)
        if missing:
            raise ConfigError(f"{source}: relationship {entry} lacks {', '.join(sorted(missing))}")

    locales = raw.get("locales")
    return CloneConfig(
        locales=[locales] if isinstance(locales, str) else locales,
        num_clusters=_cluster_count(raw.get("num_clusters"), f"{source}: num_clusters"),
        tables=tables,
        relationships=relationships,
    )


def apply_to_metadata(config: CloneConfig, metadata: Metadata) -> None:
    """Put the configuration's column overrides and relationships into ``metadata``."""
    for name, table in config.tables.items():
        _known_table(metadata, name)
        for column, settings in table.columns.items():
            if column not in metadata.tables[name].columns:
                raise ConfigError(f"config names column {name}.{column}, which does not exist")
            if "sdtype" in settings:
                metadata.update_column(name, column, sdtype=settings["sdtype"])
            if "provider" in settings:
                metadata.update_column(name, column, pii=True)
                metadata.tables[name].columns[column].extra["provider"] = settings["provider"]

    for entry in config.relationships:
        for table in (entry["parent"], entry["child"]):
            _known_table(metadata, table)
        metadata.add_relationship(
            entry["parent"], entry["child"], entry["parent_key"], entry["child_key"]
        )
    metadata.validate()


def _known_table(metadata: Metadata, name: str) -> None:
    if name not in metadata.tables:
        known = ", ".join(sorted(metadata.tables))
        raise ConfigError(
            f"config names table {name!r}, which is not being cloned; tables: {known}"
        )


def _refuse_unknown(entry: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )


def _positive(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where} must be a number of 0 or more, not {value!r}")
    return float(value)


def _cluster_count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{where} must be a whole number of 1 or more, not {value!r}")
    return value
