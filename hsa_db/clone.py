"""The end-to-end pipeline behind ``hsa-db clone``, ``fit`` and ``sample``: reflect the source,
read it, fit the synthesizer, and stream the sampled batches into the target."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from hsa_db.config import CloneConfig, apply_to_metadata
from hsa_db.db import EXAMPLE_SOURCE, Location, parse_location
from hsa_db.errors import ConfigError, DatabaseError
from hsa_db.example import example_database_path
from hsa_db.hsa import HSASynthesizer
from hsa_db.progress import Progress
from hsa_db.read import read_tables
from hsa_db.reflect import reflect_metadata
from hsa_db.write import write_tables

log = logging.getLogger(__name__)


IF_EXISTS_CHOICES = ("fail", "replace", "truncate", "append")


@dataclass
class SourceOptions:
    """What to read from the source."""

    schema: str | None = None
    tables: list[str] | None = None
    exclude: list[str] | None = None


@dataclass
class ModelOptions:
    """How to model what was read."""

    num_clusters: int | None = None
    config: CloneConfig = field(default_factory=CloneConfig)


@dataclass
class TargetOptions:
    """How and how much to write into the target."""

    scale: float = 1.0
    seed: int = 0
    if_exists: str = "fail"
    schema: str | None = None


@dataclass
class CloneSummary:
    """What a clone or sample wrote."""

    rows: dict[str, int]
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def resolve_source(text: str) -> Location:
    """The source location; ``example`` names the bundled example database."""
    if text == EXAMPLE_SOURCE:
        return parse_location(str(example_database_path()))
    return parse_location(text)


def check_distinct(
    source: Location, target: Location, source_schema: str | None, target_schema: str | None
) -> None:
    """Refuse to write into the database (and schema) that is being read."""
    if source.folder is not None or target.folder is not None:
        if target.folder is not None:
            raise DatabaseError("the target must be a database, not a folder of files")
        return
    src_file, dst_file = source.database_file, target.database_file
    if src_file is not None or dst_file is not None:
        same = (
            src_file is not None
            and dst_file is not None
            and src_file.resolve() == dst_file.resolve()
        )
    else:
        assert source.url is not None and target.url is not None
        same = (
            source.dialect == target.dialect
            and (source.url.host or "localhost") == (target.url.host or "localhost")
            and source.url.port == target.url.port
            and source.url.database == target.url.database
            and (source_schema or None) == (target_schema or None)
        )
    if same:
        raise DatabaseError(
            "--src and --dst are the same database; give another target (or --dst-schema) "
            "so that the source is never written"
        )


def fit(
    src: str | Location,
    source: SourceOptions,
    model: ModelOptions,
    progress: Progress | None = None,
) -> HSASynthesizer:
    """Reflect and read the source, then fit a synthesizer on it."""
    location = src if isinstance(src, Location) else resolve_source(src)
    metadata = reflect_metadata(
        location, schema=source.schema, tables=source.tables, exclude=source.exclude
    )
    apply_to_metadata(model.config, metadata)
    data = read_tables(location, metadata, progress=progress)

    synthesizer = HSASynthesizer(
        metadata,
        locales=model.config.locales or ["en_US"],
        default_num_clusters=model.num_clusters or model.config.num_clusters or 3,
    )
    _apply_table_parameters(synthesizer, model.config)
    synthesizer.fit(data, progress=progress)
    return synthesizer


def _apply_table_parameters(synthesizer: HSASynthesizer, config: CloneConfig) -> None:
    """Give the tables the config names their synthesizer and parameters."""
    for name, table in config.tables.items():
        parameters = dict(table.parameters)
        if table.num_clusters is not None:
            parameters["num_clusters"] = table.num_clusters
        if table.synthesizer is None and not parameters:
            continue
        current = synthesizer.get_table_parameters(name)
        synthesizer.set_table_parameters(
            name,
            table_synthesizer=table.synthesizer or current["synthesizer_name"],
            table_parameters=parameters,
        )


def table_scales(config: CloneConfig, scale: float) -> float | dict[str, float]:
    """The scale to sample at: one number, or per table where the config sets some."""
    overrides = {
        name: table.scale for name, table in config.tables.items() if table.scale is not None
    }
    if not overrides:
        return scale
    return {name: factor * scale for name, factor in overrides.items()} | {"*": scale}


def sample_into(
    synthesizer: HSASynthesizer,
    dst: str,
    target: TargetOptions,
    scale: float | dict[str, float] | None = None,
    progress: Progress | None = None,
) -> CloneSummary:
    """Sample from a fitted synthesizer and stream the rows into ``dst``."""
    if target.if_exists not in IF_EXISTS_CHOICES:
        raise ConfigError(f"--if-exists must be one of {', '.join(IF_EXISTS_CHOICES)}")
    started = time.perf_counter()
    metadata = synthesizer.get_metadata()
    batches = synthesizer.sample_batches(
        scale=target.scale if scale is None else scale, seed=target.seed, progress=progress
    )
    summary = write_tables(
        dst, metadata, batches, if_exists=target.if_exists, schema=target.schema, progress=progress
    )

    return CloneSummary(rows=dict(summary.rows), seconds=time.perf_counter() - started)


def clone(
    src: str,
    dst: str,
    source: SourceOptions,
    model: ModelOptions,
    target: TargetOptions,
    progress: Progress | None = None,
) -> CloneSummary:
    """Read ``src``, learn it and write a synthetic copy into ``dst``."""
    started = time.perf_counter()
    source_location = resolve_source(src)
    target_location = parse_location(dst)
    check_distinct(source_location, target_location, source.schema, target.schema)

    synthesizer = fit(source_location, source, model, progress=progress)
    summary = sample_into(
        synthesizer, dst, target, table_scales(model.config, target.scale), progress=progress
    )

    return CloneSummary(rows=summary.rows, seconds=time.perf_counter() - started)


def save_model(synthesizer: HSASynthesizer, path: str | Path) -> None:
    """Save a fitted synthesizer; it carries the source schema needed to recreate it."""
    synthesizer.save(str(path))


def load_model(path: str | Path) -> HSASynthesizer:
    """Load a synthesizer saved by :func:`save_model`."""
    return HSASynthesizer.load(str(path))
