"""The ``hsa-db`` command line: parses options, calls one library function per command, and
turns the library's errors into one line on stderr with exit code 1."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hsa_db import __version__
from hsa_db import clone as pipeline
from hsa_db.clone import ModelOptions, SourceOptions, resolve_source
from hsa_db.config import CloneConfig, load_config
from hsa_db.db import mask_text
from hsa_db.errors import HsaDbError
from hsa_db.example import write_example
from hsa_db.inspect import count_rows, describe
from hsa_db.reflect import reflect_metadata

F = TypeVar("F", bound=Callable[..., Any])

INTERRUPTED_EXIT = 130


def _split(values: tuple[str, ...]) -> list[str] | None:
    """Table lists given as repeated options or comma-separated values."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def handle_errors(command: F) -> F:
    """Report domain errors and interrupts as one line and a non-zero exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except HsaDbError as error:
            raise click.ClickException(str(error)) from None
        except KeyboardInterrupt:
            click.echo("Error: interrupted; the target was left as it was.", err=True)
            sys.exit(INTERRUPTED_EXIT)
        except Exception as error:
            if os.environ.get("HSA_DB_DEBUG"):
                raise
            first = (str(error).splitlines() or [""])[0]
            raise click.ClickException(
                f"unexpected {type(error).__name__}: {first} "
                "(set HSA_DB_DEBUG=1 to see the traceback and please report it)"
            ) from None

    return wrapper  # type: ignore[return-value]


class ProgressPrinter:
    """Prints one line per table and stage to stderr; silent when quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        if quiet:
            logging.getLogger("hsa_db").setLevel(logging.ERROR)

    def __call__(self, stage: str, table: str, rows: int | None) -> None:
        if self.quiet:
            return
        count = "" if rows is None else f"{rows:>10,} rows"
        click.echo(f"  {stage:<7} {table:<32} {count}", err=True)

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    def finished(self, rows: dict[str, int], seconds: float) -> None:
        """The closing summary: tables, rows and time."""
        self.say(f"done: {len(rows)} tables, {sum(rows.values()):,} rows in {seconds:.1f} s")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hsa-db")
@click.option("-v", "--verbose", is_flag=True, help="Log what the library does (for debugging).")
def main(verbose: bool) -> None:
    """hsa-db: realistic synthetic copies of relational databases.

    Reads a database's schema and rows, learns a Hierarchical Segmentation Algorithm model,
    and writes a synthetic database with the same schema, keys that join, and no real rows.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


source_options = [
    click.option("--schema", help="Schema of the source to read (default: the database's)."),
    click.option("--tables", multiple=True, help="Only these tables (comma-separated)."),
    click.option("--exclude", multiple=True, help="Leave out these tables (comma-separated)."),
]


def with_options(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@main.command()
@click.argument("url")
@with_options(source_options)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the metadata as JSON to this file.",
)
@handle_errors
def inspect(
    url: str,
    schema: str | None,
    tables: tuple[str, ...],
    exclude: tuple[str, ...],
    json_file: Path | None,
) -> None:
    """Summarise a database: tables, rows, keys, relationships and detected sdtypes.

    URL is a database URL (postgresql://user@host/db, mysql://…, sqlite:///file,
    duckdb:///file), a .duckdb/.sqlite file, a folder of CSV/Parquet files, or 'example'.
    """
    location = resolve_source(url)
    metadata = reflect_metadata(
        location, schema=schema, tables=_split(tables), exclude=_split(exclude)
    )
    click.echo(describe(metadata, count_rows(location, metadata)))
    if json_file is not None:
        if json_file.exists():
            json_file.unlink()
        metadata.save_to_json(json_file)
        click.echo(f"metadata written to {json_file}")


model_options = [
    click.option(
        "--num-clusters", type=click.IntRange(min=1), help="Segments per table (default 3)."
    ),
    click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="YAML or TOML file with per-table and per-column settings.",
    ),
]
target_options = [
    click.option("--dst-schema", help="Schema of the target to write into."),
    click.option(
        "--scale",
        type=click.FloatRange(min=0),
        default=1.0,
        show_default=True,
        help="Rows to write relative to the source.",
    ),
    click.option(
        "--seed",
        type=int,
        default=0,
        show_default=True,
        help="Seed: the same model, seed and scale give the same rows.",
    ),
    click.option(
        "--if-exists",
        type=click.Choice(["fail", "replace", "truncate", "append"]),
        default="fail",
        show_default=True,
        help="What to do when the target already has the tables.",
    ),
    click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors."),
]


@main.command()
@click.option(
    "--src",
    default="example",
    show_default=True,
    help="Source database URL, file or folder; 'example' is the bundled shop.",
)
@click.option("--dst", required=True, help="Target database URL or .duckdb/.sqlite file.")
@with_options(source_options)
@with_options(model_options)
@with_options(target_options)
@handle_errors
def clone(
    src: str,
    dst: str,
    schema: str | None,
    tables: tuple[str, ...],
    exclude: tuple[str, ...],
    num_clusters: int | None,
    config_file: Path | None,
    dst_schema: str | None,
    scale: float,
    seed: int,
    if_exists: str,
    quiet: bool,
) -> None:
    """Write a synthetic copy of the source database into the target."""
    printer = ProgressPrinter(quiet)
    source, model = _source_and_model(schema, tables, exclude, num_clusters, config_file)
    target = pipeline.TargetOptions(scale=scale, seed=seed, if_exists=if_exists, schema=dst_schema)
    printer.say(f"cloning {mask_text(src)} into {mask_text(dst)}")

    summary = pipeline.clone(src, dst, source, model, target, progress=printer)
    printer.finished(summary.rows, summary.seconds)


@main.command()
@click.option(
    "--src",
    default="example",
    show_default=True,
    help="Source database URL, file or folder; 'example' is the bundled shop.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to save the fitted model to (.pkl).",
)
@with_options(source_options)
@with_options(model_options)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@handle_errors
def fit(
    src: str,
    output: Path,
    schema: str | None,
    tables: tuple[str, ...],
    exclude: tuple[str, ...],
    num_clusters: int | None,
    config_file: Path | None,
    quiet: bool,
) -> None:
    """Learn a model of the source database and save it to a file."""
    printer = ProgressPrinter(quiet)
    source, model = _source_and_model(schema, tables, exclude, num_clusters, config_file)
    printer.say(f"fitting {mask_text(src)}")

    synthesizer = pipeline.fit(src, source, model, progress=printer)
    pipeline.save_model(synthesizer, output)
    printer.say(f"model saved to {output}")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dst", required=True, help="Target database URL or .duckdb/.sqlite file.")
@with_options(target_options)
@handle_errors
def sample(
    model: Path,
    dst: str,
    dst_schema: str | None,
    scale: float,
    seed: int,
    if_exists: str,
    quiet: bool,
) -> None:
    """Write synthetic rows from a saved model into the target."""
    printer = ProgressPrinter(quiet)
    synthesizer = pipeline.load_model(model)
    target = pipeline.TargetOptions(scale=scale, seed=seed, if_exists=if_exists, schema=dst_schema)
    printer.say(f"sampling {model} into {mask_text(dst)}")

    summary = pipeline.sample_into(synthesizer, dst, target, progress=printer)
    printer.finished(summary.rows, summary.seconds)


@main.command()
@click.option("--dst", required=True, help="Database URL or .duckdb/.sqlite file to write to.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generator.")
@click.option(
    "--if-exists",
    type=click.Choice(["fail", "replace"]),
    default="fail",
    show_default=True,
    help="What to do when the target already has the tables.",
)
@handle_errors
def example(dst: str, seed: int, if_exists: str) -> None:
    """Write the bundled example database (a small shop) into a database."""
    write_example(dst, seed=seed, if_exists=if_exists)
    click.echo(f"example database written to {mask_text(dst)}")


def _source_and_model(
    schema: str | None,
    tables: tuple[str, ...],
    exclude: tuple[str, ...],
    num_clusters: int | None,
    config_file: Path | None,
) -> tuple[SourceOptions, ModelOptions]:
    config = load_config(config_file) if config_file else CloneConfig()
    source = SourceOptions(schema=schema, tables=_split(tables), exclude=_split(exclude))
    return source, ModelOptions(num_clusters=num_clusters, config=config)


if __name__ == "__main__":  # pragma: no cover
    main()
