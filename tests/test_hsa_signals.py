"""Cross-table signals of the bundled example survive the synthesizer with default settings.

The example database is generated with two cross-table correlations (see
``hsa_db.example``): how many orders a customer places follows the customer's loyalty tier,
and an order line's discount follows the tier of the customer who placed the order (a child
column that follows a grandparent column). Tolerances, synthetic against real:

* orders ~ tier Spearman: ``|synthetic - real| <= 0.2``;
* gold / bronze mean orders ratio: at least 3.5 (real 5.0 to 6.3 on these seeds);
* discount ~ tier Spearman: at least 0.7 (real about 0.89; synthetic 0.77 to 0.85 on seeds
  0 to 2);
* gold - bronze mean discount gap: at least 0.11 (real about 0.155; synthetic 0.12 to 0.14).

When the tiers are shuffled among the real customers before fitting, both signals vanish
from the synthetic rows: Spearman within 0.2 of zero, ratio within [0.4, 2.0], gap within
0.04 of zero (well apart from the bounds above; chance alone gives the shuffled real rows
-0.09 and -0.02).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hsa_db import HSASynthesizer
from hsa_db.example import build_example, example_signals
from hsa_db.metadata import Metadata


def _synthetic_signals(metadata: Metadata, data: dict[str, pd.DataFrame]) -> dict[str, float]:
    synthesizer = HSASynthesizer(metadata)
    synthesizer.fit(data)
    return example_signals(synthesizer.sample(seed=0))


@pytest.mark.parametrize("seed", [0, 2])
def test_signals_survive(seed: int) -> None:
    metadata, data = build_example(seed)
    real = example_signals(data)

    synthetic = _synthetic_signals(metadata, data)

    assert abs(synthetic["orders_tier_correlation"] - real["orders_tier_correlation"]) <= 0.2
    assert synthetic["orders_gold_bronze_ratio"] >= 3.5
    assert synthetic["discount_tier_correlation"] >= 0.7
    assert synthetic["discount_gold_bronze_gap"] >= 0.11


def test_shuffled_tiers_carry_no_signal() -> None:
    metadata, data = build_example(0)
    customers = data["customer"].copy()
    rng = np.random.default_rng(0)
    customers["loyalty_tier"] = rng.permutation(customers["loyalty_tier"].to_numpy())
    data = {**data, "customer": customers}

    synthetic = _synthetic_signals(metadata, data)

    assert abs(synthetic["orders_tier_correlation"]) <= 0.2
    assert 0.4 <= synthetic["orders_gold_bronze_ratio"] <= 2.0
    assert abs(synthetic["discount_tier_correlation"]) <= 0.2
    assert abs(synthetic["discount_gold_bronze_gap"]) <= 0.04
