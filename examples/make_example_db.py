"""Write the bundled example database, a small shop, into a DuckDB file.

    python examples/make_example_db.py shop.duckdb
    python examples/make_example_db.py shop.duckdb --seed 7 --replace

The same seed always gives the same rows; see ``hsa_db/example.py`` for how they are made.
"""

from __future__ import annotations

import argparse
import sys

from hsa_db.errors import HsaDbError
from hsa_db.example import build_example, write_example


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the example shop into a DuckDB file.")
    parser.add_argument("path", help="DuckDB file to write, for example shop.duckdb")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generator (default 0)")
    parser.add_argument("--replace", action="store_true", help="replace tables that exist")
    args = parser.parse_args(argv)

    try:
        write_example(args.path, seed=args.seed, if_exists="replace" if args.replace else "fail")
    except HsaDbError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1

    _, data = build_example(args.seed)
    for name, frame in data.items():
        print(f"{name:<12} {len(frame):>6} rows")
    print(f"example database written to {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
