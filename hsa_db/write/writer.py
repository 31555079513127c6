"""``write_tables``: a synthetic database written into a target like a dump and restore.

Tables are created bare, the batches are bulk loaded as they arrive, and then keys, foreign
keys, indexes and sequences are added, all in one transaction where the database can roll back
DDL (PostgreSQL, SQLite, DuckDB). MySQL/MariaDB commit DDL at once, so there a failure drops
what the write created and the error says what is left.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from hsa_db.db import Location, create_engine, mask_text, parse_location
from hsa_db.errors import HsaDbError, WriteError
from hsa_db.metadata import Metadata
from hsa_db.progress import Progress
from hsa_db.write.plan import Batch, WritePlan, check_frame, iterate_batches, make_plan, with_last
from hsa_db.write.target import UNCHANGED, Target

log = logging.getLogger(__name__)

WAITING = "waiting for the next batch of rows"


@dataclass
class WriteSummary:
    """What a write did: rows per table, seconds taken, and what could not be carried over."""

    rows: dict[str, int]
    seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def write_tables(
    url: str | Location,
    metadata: Metadata,
    data: Batch | Iterable[Batch],
    if_exists: str = "fail",
    schema: str | None = None,
    progress: Progress | None = None,
) -> WriteSummary:
    """Write ``data`` into the database at ``url`` with the schema of ``metadata``.

    Args:
        url: Database URL or ``.duckdb``/``.sqlite`` path of the target.
        metadata: Tables, columns, keys and relationships to create.
        data: A dict of DataFrames by table name, or an iterable of such dicts (batches), each
            loaded as it arrives. Tables without rows are created empty.
        if_exists: What to do with tables the target already has: ``fail`` (refuse, touching
            nothing), ``replace`` (drop and recreate), ``truncate`` (keep their definition,
            empty them) or ``append`` (keep their rows and add to them, generated integer keys
            moved past the largest existing ones).
        schema: Target schema (PostgreSQL, DuckDB) or database (MySQL/MariaDB), created if
            missing; the connection's default when ``None``.
        progress: Called as ``progress("write", table, rows)`` when a table's rows are loaded.

    Returns:
        A :class:`WriteSummary`.
    """
    started = time.perf_counter()
    batches = iterate_batches(data)
    first = next(batches, {})
    plan = make_plan(metadata, first, if_exists, schema)
    location = parse_location(url) if isinstance(url, str) else url

    engine = create_engine(location, must_exist=False)
    try:
        target = open_target(engine, location, plan)
        try:
            rows = _write(target, itertools.chain([first], batches), progress)
        finally:
            target.close()
    finally:
        engine.dispose()

    return WriteSummary(rows, time.perf_counter() - started, list(target.warnings))


def create_schema_only(
    url: str | Location, metadata: Metadata, if_exists: str = "fail", schema: str | None = None
) -> WriteSummary:
    """Create the tables, keys, indexes and types of ``metadata`` in an empty target."""
    return write_tables(url, metadata, {}, if_exists=if_exists, schema=schema)


def open_target(engine: Engine, location: Location, plan: WritePlan) -> Target:
    """The :class:`Target` for ``location``'s dialect."""
    from hsa_db.write import duckdb, mysql, postgres, sqlite

    targets: dict[str, type[Target]] = {
        "postgresql": postgres.PostgresTarget,
        "mysql": mysql.MysqlTarget,
        "sqlite": sqlite.SqliteTarget,
        "duckdb": duckdb.DuckdbTarget,
    }
    return targets[location.dialect](engine, location, plan)


def _write(target: Target, batches: Iterable[Batch], progress: Progress | None) -> dict[str, int]:
    """Inspect, prepare, load and finish, undoing what can be undone if anything fails."""
    target.inspect()
    rows: Counter[str] = Counter({name: 0 for name in target.plan.order})
    reported: set[str] = set()
    pending = with_last(iter(batches))
    try:
        target.begin()
        target.prepare()
        while (item := _next_batch(target, pending)) is not None:
            batch, last = item
            for name, frame in batch.items():
                check_frame(target.plan, name, frame)
                rows[name] += target.load(name, frame)
                if last and progress is not None:
                    progress("write", name, rows[name])
                    reported.add(name)
        target.finish()
        target.commit()
    except BaseException as error:
        left = target.abort()
        failure = _failure(target, error, left)
        if failure is error:
            raise
        raise failure from error

    for name in target.plan.order:
        if progress is not None and name not in reported:
            progress("write", name, rows[name])
    return dict(rows)


def _next_batch(target: Target, pending: Iterator[tuple[Batch, bool]]) -> tuple[Batch, bool] | None:
    target.step = WAITING
    return next(pending, None)


def _failure(target: Target, error: BaseException, left: str) -> BaseException:
    """The exception to raise after a failed write: a :class:`WriteError` whose one line says
    what failed and what is left, except that an interrupt stays an interrupt, and an error
    of the caller's batches or of hsa-db itself is raised as it is when the target is
    unchanged."""
    level = logging.INFO if left == UNCHANGED else logging.WARNING
    log.log(level, "write to %s failed while %s; %s", target.location.masked(), target.step, left)
    if isinstance(error, WriteError):
        return WriteError(f"{error}; {left}")
    if not isinstance(error, Exception):
        add_note = getattr(error, "add_note", None)
        if add_note is not None and left != UNCHANGED:
            add_note(left)
        return error
    if isinstance(error, HsaDbError) and left == UNCHANGED:
        return error
    if target.step == WAITING and left == UNCHANGED:
        return error
    return WriteError(
        f"writing to {target.location.masked()} failed while {target.step}: "
        f"{describe_error(error)}; {left}"
    )


def describe_error(error: BaseException) -> str:
    """A driver's error as one line, password-free and not too long."""
    text = " ".join(str(error).split())
    text = mask_text(text) or type(error).__name__
    return text if len(text) <= 400 else text[:397] + "..."


def schema_ddl(metadata: Metadata, dialect: str, schema: str | None = None) -> list[str]:
    """The statements that create an empty copy of ``metadata`` in ``dialect`` (a dry run).

    ``dialect`` is ``postgresql``, ``mysql``, ``sqlite`` or ``duckdb``.
    """
    from hsa_db.write import duckdb, mysql, postgres, sqlite

    ddl_classes = {
        "postgresql": postgres.PostgresDdl,
        "mysql": mysql.MysqlDdl,
        "sqlite": sqlite.SqliteDdl,
        "duckdb": duckdb.DuckdbDdl,
    }
    if dialect not in ddl_classes:
        raise WriteError(f"unknown dialect {dialect!r}; use one of {', '.join(ddl_classes)}")
    plan = make_plan(metadata, {}, "fail", schema)
    return ddl_classes[dialect](plan.metadata, plan.schema).schema_statements()
