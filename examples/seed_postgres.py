"""Seed a PostgreSQL database with the example shop.

    python examples/seed_postgres.py postgresql://shop:shop@localhost:5432/shop

The URL may also come from ``DATABASE_URL``. The ``seed`` service of ``docker/compose.yaml`` runs
this script against its ``prod`` database, and the tests run it against the local server. A
database that already holds every table of the example is left as it is, so that the compose
project can be started again.
"""

from __future__ import annotations

import os
import sys

import sqlalchemy as sa

from hsa_db.db import create_engine, parse_location
from hsa_db.errors import HsaDbError
from hsa_db.example import build_metadata, write_example


def already_seeded(url: str) -> bool:
    """Whether the database at ``url`` has every table of the example."""
    engine = create_engine(parse_location(url), read_only=True)
    try:
        existing = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    return set(build_metadata().tables) <= existing


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    url = args[0] if args else os.environ.get("DATABASE_URL", "")
    if not url:
        print("Error: give the database URL as the argument or in DATABASE_URL", file=sys.stderr)
        return 2

    try:
        location = parse_location(url)
        if already_seeded(url):
            print(f"{location.masked()} already holds the example shop; left as it is")
            return 0
        write_example(url)
    except HsaDbError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1

    print(f"example shop written to {location.masked()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
