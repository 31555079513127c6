"""A folder of Parquet files as the source: write the example shop as Parquet files with DuckDB,
then clone the folder into a DuckDB file with the command line.

    python examples/parquet_folder.py [FOLDER]

Writes ``FOLDER/shop_parquet/*.parquet``, ``FOLDER/shop_keys.yaml`` and
``FOLDER/shop_synthetic.duckdb`` (default: the current folder). Files carry no keys: hsa-db infers
``<table>_id`` keys from the column names, and the configuration file declares the one it cannot
guess, ``customer.referred_by``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from hsa_db.example import build_metadata, example_database_path

KEYS = """\
relationships:
  - {parent: customer, parent_key: customer_id, child: customer, child_key: referred_by}
"""


def write_parquet_folder(folder: Path) -> list[Path]:
    """One Parquet file per table of the example database."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    with duckdb.connect(str(example_database_path()), read_only=True) as connection:
        for table in build_metadata().tables:
            path = folder / f"{table}.parquet"
            location = str(path).replace("'", "''")
            connection.execute(f"COPY \"{table}\" TO '{location}' (FORMAT parquet)")
            files.append(path)

    return files


def hsa_db_command() -> str:
    """The ``hsa-db`` program: on the PATH, or beside this Python."""
    beside = Path(sys.executable).parent / "hsa-db"
    return shutil.which("hsa-db") or str(beside)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Clone a folder of Parquet files.")
    parser.add_argument("folder", nargs="?", default=".", help="where to write the files")
    work = Path(parser.parse_args(argv).folder)

    files = write_parquet_folder(work / "shop_parquet")
    print(f"wrote {len(files)} Parquet files to {work / 'shop_parquet'}")
    keys = work / "shop_keys.yaml"
    keys.write_text(KEYS, encoding="utf-8")

    target = work / "shop_synthetic.duckdb"
    command = [
        hsa_db_command(),
        "clone",
        "--src",
        str(work / "shop_parquet"),
        "--dst",
        str(target),
        "--config",
        str(keys),
        "--if-exists",
        "replace",
    ]
    print("$ hsa-db " + " ".join(command[1:]), flush=True)
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
