"""HSASynthesizer on every table of the chinook and northwind sample databases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hsa_db import HSASynthesizer, Metadata, read_tables
from tests.frame_checks import assert_keys_hold, assert_same_dtypes

pytestmark = pytest.mark.postgres

Data = dict[str, pd.DataFrame]
Fitted = tuple[Metadata, Data, HSASynthesizer]


def _fit(url: str) -> Fitted:
    metadata = Metadata.from_database(url)
    data = read_tables(url, metadata)
    synthesizer = HSASynthesizer(metadata)
    synthesizer.fit(data)
    return metadata, data, synthesizer


@pytest.fixture(scope="module")
def chinook(chinook_pg: str) -> Fitted:
    return _fit(chinook_pg)


@pytest.fixture(scope="module")
def northwind(northwind_pg: str) -> Fitted:
    return _fit(northwind_pg)


@pytest.fixture(params=["chinook", "northwind"])
def database(request: pytest.FixtureRequest) -> Fitted:
    fitted: Fitted = request.getfixturevalue(request.param)
    return fitted


def test_every_key_joins_and_stays_unique(database: Fitted) -> None:
    metadata, data, synthesizer = database
    synthetic = synthesizer.sample(seed=0)

    assert_keys_hold(metadata, synthetic)
    assert_same_dtypes(data, synthetic)
    for name, frame in data.items():
        assert abs(len(synthetic[name]) - len(frame)) <= max(2, 0.05 * len(frame)), name


def test_half_scale_gives_about_half_the_rows(database: Fitted) -> None:
    metadata, data, synthesizer = database
    half = synthesizer.sample(scale=0.5, seed=1)

    assert_keys_hold(metadata, half)
    for name, frame in data.items():
        expected = len(frame) / 2
        assert abs(len(half[name]) - expected) <= max(3, 0.25 * expected), name


def test_batches_reference_only_rows_already_out(database: Fitted) -> None:
    metadata, _, synthesizer = database
    seen: Data = {}

    for batch in synthesizer.sample_batches(batch_rows=2_000, seed=2):
        for name, frame in batch.items():
            seen[name] = (
                pd.concat([seen[name], frame], ignore_index=True) if name in seen else frame
            )
        assert_keys_hold(metadata, seen)


def test_save_load_and_reset_give_the_same_rows(database: Fitted, tmp_path: Path) -> None:
    _, _, synthesizer = database
    synthesizer.reset_sampling()
    synthesizer.save(tmp_path / "model.pkl")
    loaded = HSASynthesizer.load(tmp_path / "model.pkl")

    first, from_file = synthesizer.sample(), loaded.sample()
    synthesizer.reset_sampling()
    again = synthesizer.sample()
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, from_file[name])
        pd.testing.assert_frame_equal(frame, again[name])


def test_no_real_person_is_copied(chinook: Fitted) -> None:
    _, data, synthesizer = chinook
    synthetic = synthesizer.sample(seed=3)

    for column in ("email", "phone", "last_name", "address"):
        real = set(data["customer"][column].dropna())
        copied = real & set(synthetic["customer"][column].dropna())
        assert len(copied) <= 0.1 * len(real), column


def test_learned_distributions_of_a_real_table(chinook: Fitted) -> None:
    _, _, synthesizer = chinook
    learned = synthesizer.get_learned_distributions("track")

    assert learned["milliseconds"]["distribution"] == "beta"
    assert set(learned["milliseconds"]["learned_parameters"]) == {"a", "b", "loc", "scale"}
