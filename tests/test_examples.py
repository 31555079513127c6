"""Every script of examples/ runs, each in its own process on temporary paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hsa_db.example import CACHE_DIR_VARIABLE, build_example, build_metadata
from tests.checks import dangling_foreign_keys, duplicate_keys, row_counts

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(script: str, *args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<script>`` with this Python, ``hsa-db`` on the PATH and its own cache."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env[CACHE_DIR_VARIABLE] = str(cache)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result


def expected_rows() -> dict[str, int]:
    return {name: len(frame) for name, frame in build_example(0)[1].items()}


def test_make_example_db(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"

    result = run_example("make_example_db.py", str(path), cache=tmp_path / "cache")

    assert f"example database written to {path}" in result.stdout
    assert row_counts(str(path), build_metadata()) == expected_rows()


def test_seed_postgres_seeds_once(postgres_url: str, tmp_path: Path) -> None:
    metadata = build_metadata()

    first = run_example("seed_postgres.py", postgres_url, cache=tmp_path)
    second = run_example("seed_postgres.py", postgres_url, cache=tmp_path)

    assert "example shop written to" in first.stdout
    assert "already holds the example shop" in second.stdout
    assert row_counts(postgres_url, metadata) == expected_rows()
    assert not any(dangling_foreign_keys(postgres_url, metadata).values())
    assert not any(duplicate_keys(postgres_url, metadata).values())


def test_api_walkthrough(tmp_path: Path) -> None:
    result = run_example("api_walkthrough.py", str(tmp_path), cache=tmp_path / "cache")

    assert "learned distributions of product:" in result.stdout
    assert "discount_tier_correlation" in result.stdout
    assert (tmp_path / "shop_model.pkl").exists()


def test_parquet_folder(tmp_path: Path) -> None:
    run_example("parquet_folder.py", str(tmp_path), cache=tmp_path / "cache")
    target = str(tmp_path / "shop_synthetic.duckdb")

    assert len(list((tmp_path / "shop_parquet").glob("*.parquet"))) == len(expected_rows())
    assert all(count > 0 for count in row_counts(target, build_metadata()).values())
    assert not any(dangling_foreign_keys(target, build_metadata()).values())
