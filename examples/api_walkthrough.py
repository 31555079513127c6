"""The Python API on the example shop: fit, look at what was learned, sample, save and load.

    python examples/api_walkthrough.py [FOLDER]

The fitted model is saved as ``FOLDER/shop_model.pkl`` (default: the current folder).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from hsa_db import HSASynthesizer
from hsa_db.example import build_example, example_signals


def describe(value: Any) -> str:
    """A learned parameter, short."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return (
            "["
            + ", ".join(describe(item) for item in value[:4])
            + (", …]" if len(value) > 4 else "]")
        )
    return str(value)


def print_learned_distributions(synthesizer: HSASynthesizer, table: str) -> None:
    print(f"learned distributions of {table}:")
    for column, learned in synthesizer.get_learned_distributions(table).items():
        parameters = learned.get("learned_parameters") or {}
        text = ", ".join(f"{name}={describe(value)}" for name, value in parameters.items())
        print(f"  {column:<20} {learned['distribution']:<12} {text}".rstrip())


def print_comparison(real: dict[str, pd.DataFrame], **synthetic: dict[str, pd.DataFrame]) -> None:
    print(f"\n{'table':<12} {'real':>7}" + "".join(f" {name:>10}" for name in synthetic))
    for table, frame in real.items():
        counts = "".join(f" {len(data[table]):>10}" for data in synthetic.values())
        print(f"{table:<12} {len(frame):>7}{counts}")

    signals = {name: example_signals(data) for name, data in synthetic.items()}
    print(f"\n{'signal':<28} {'real':>7}" + "".join(f" {name:>10}" for name in synthetic))
    for signal, value in example_signals(real).items():
        measured = "".join(f" {signals[name][signal]:>10.3f}" for name in synthetic)
        print(f"{signal:<28} {value:>7.3f}{measured}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fit, sample, save and load on the example.")
    parser.add_argument("folder", nargs="?", default=".", help="where to save the model")
    folder = Path(parser.parse_args(argv).folder)

    metadata, data = build_example(seed=0)
    synthesizer = HSASynthesizer(metadata, locales=["en_US"], default_num_clusters=3)
    synthesizer.set_table_parameters(
        "product",
        table_synthesizer="GaussianCopulaSynthesizer",
        table_parameters={"default_distribution": "truncnorm"},
    )
    synthesizer.fit(data)
    print_learned_distributions(synthesizer, "product")

    same_size = synthesizer.sample(scale=1, seed=7)
    half = synthesizer.sample(scale=0.5)
    print("\nsynthetic customers:")
    print(same_size["customer"].head(3).to_string(index=False))
    print_comparison(data, same_size=same_size, half_size=half)

    path = folder / "shop_model.pkl"
    synthesizer.save(path)
    loaded = HSASynthesizer.load(path)
    again = loaded.sample(scale=1, seed=7)
    same = all(again[name].equals(frame) for name, frame in same_size.items())
    print(f"\nsaved to {path} and loaded; the same seed gives the same rows again: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
