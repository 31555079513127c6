"""HSASynthesizer on a small hand-made store: structure, constraints, the API and its errors."""

from __future__ import annotations

import decimal
import pickle
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdt.transformers import FloatFormatter, UniformEncoder

from hsa_db import HSASynthesizer
from hsa_db.errors import MetadataError, SynthesizerError
from hsa_db.metadata import Metadata
from tests.frame_checks import assert_keys_hold, assert_same_dtypes
from tests.hsa_fixtures import make_store

Data = dict[str, pd.DataFrame]


@pytest.fixture(scope="module")
def store() -> tuple[Metadata, Data]:
    return make_store()


@pytest.fixture(scope="module")
def fitted(store: tuple[Metadata, Data]) -> HSASynthesizer:
    metadata, data = store
    synthesizer = HSASynthesizer(metadata, seed=3)
    synthesizer.fit(data)
    return synthesizer


@pytest.fixture(scope="module")
def sampled(fitted: HSASynthesizer) -> Data:
    return fitted.sample(seed=11)


# ---------------------------------------------------------------------- structure


def test_keys_join_and_stay_unique(store: tuple[Metadata, Data], sampled: Data) -> None:
    metadata, data = store

    assert_keys_hold(metadata, sampled)
    assert_same_dtypes(data, sampled)
    assert {name: len(frame) for name, frame in sampled.items()} == {
        name: len(frame) for name, frame in data.items()
    }


def test_self_reference_is_a_forest(sampled: Data) -> None:
    employees = sampled["employee"]
    manager = dict(zip(employees["employee_id"], employees["manager_id"], strict=True))

    for start in manager:
        seen, current = set(), start
        while current is not pd.NA and current is not None:
            assert current not in seen, f"cycle through employee {current}"
            seen.add(current)
            current = manager[current]
    assert employees["manager_id"].isna().any()
    assert employees["manager_id"].notna().any()


def test_cycle_closing_key_points_at_existing_rows(sampled: Data) -> None:
    heads = sampled["department"]["head_id"].dropna()

    assert len(heads) > 0
    assert set(heads) <= set(sampled["employee"]["employee_id"])
    assert sampled["employee"]["department_id"].notna().any()


def test_composite_key_counts_lines_per_order(sampled: Data) -> None:
    lines = sampled["order_line"]

    first = lines.groupby("order_id")["line_no"].min()
    assert (first == 1).all()
    assert not lines.duplicated(["order_id", "line_no"]).any()


def test_link_table_never_repeats_a_pair(sampled: Data) -> None:
    pairs = sampled["product_tag"]

    assert len(pairs) > 0
    assert not pairs.duplicated(["sku", "tag_id"]).any()


def test_nullable_keys_keep_their_null_share(store: tuple[Metadata, Data], sampled: Data) -> None:
    _, data = store
    for table, column in [("audit", "order_id"), ("orders", "employee_id")]:
        real = data[table][column].isna().mean()
        synthetic = sampled[table][column].isna().mean()
        assert abs(real - synthetic) < 0.15, (table, column, real, synthetic)


def test_empty_table_and_table_without_primary_key(sampled: Data) -> None:
    assert len(sampled["coupon"]) == 0
    assert str(sampled["coupon"]["coupon_id"].dtype) == "Int32"
    assert len(sampled["audit"]) == 50


def test_all_null_column_stays_null(sampled: Data) -> None:
    assert sampled["customer"]["legacy_code"].isna().all()


def test_generated_values_are_new(store: tuple[Metadata, Data], sampled: Data) -> None:
    _, data = store
    customers, products = sampled["customer"], sampled["product"]

    assert customers["email"].is_unique
    assert not set(customers["email"]) & set(data["customer"]["email"])
    assert not set(products["description"].dropna()) & set(data["product"]["description"])
    ids = customers["external_id"].dropna()
    assert all(uuid.UUID(value).version == 4 for value in ids)
    assert not set(ids) & set(data["customer"]["external_id"])
    assert products["thumbnail"].dropna().map(lambda value: isinstance(value, bytes)).all()
    assert set(products["attributes"].dropna()) <= {"{}"}


def test_types_and_limits_hold(sampled: Data) -> None:
    skus = sampled["product"]["sku"]
    salaries = sampled["employee"]["salary"]

    assert skus.str.len().max() <= 6
    assert skus.str.fullmatch(r"[A-Z]{2}[0-9]{4}").all()
    assert all(isinstance(v, decimal.Decimal) and v.as_tuple().exponent == -2 for v in salaries)
    assert set(sampled["orders"]["status"]) <= {"new", "paid", "shipped"}
    assert str(sampled["orders"]["placed_at"].dtype) == "datetime64[ns, UTC]"
    assert sampled["order_line"]["quantity"].between(-(2**15), 2**15 - 1).all()


def test_child_count_and_grandchild_column_follow_a_root_column(sampled: Data) -> None:
    customers, orders, lines = sampled["customer"], sampled["orders"], sampled["order_line"]
    per_customer = orders.groupby("customer_id").size()
    customers = customers.assign(orders=customers["customer_id"].map(per_customer).fillna(0))
    tier_of_order = orders.set_index("order_id")["customer_id"].map(
        customers.set_index("customer_id")["tier"]
    )
    discount = lines.assign(tier=lines["order_id"].map(tier_of_order)).groupby("tier")["discount"]

    mean_orders = customers.groupby("tier")["orders"].mean()
    assert mean_orders["gold"] > 2 * mean_orders["bronze"]
    assert discount.mean()["gold"] > discount.mean()["bronze"] + 0.03


def test_half_scale_halves_every_table(
    fitted: HSASynthesizer, store: tuple[Metadata, Data]
) -> None:
    _, data = store
    half = fitted.sample(scale=0.5, seed=1)

    for name, frame in data.items():
        assert abs(len(half[name]) - len(frame) / 2) <= max(3, 0.2 * len(frame)), name


def test_unique_keys_hold_at_a_larger_scale(
    fitted: HSASynthesizer, store: tuple[Metadata, Data]
) -> None:
    metadata, data = store
    double = fitted.sample(scale=2.0, seed=4)

    assert_keys_hold(metadata, double)
    assert len(double["tag"]) == 2 * len(data["tag"])
    assert double["tag"]["label"].is_unique
    assert double["customer"]["email"].is_unique


def test_scale_per_table(fitted: HSASynthesizer, store: tuple[Metadata, Data]) -> None:
    _, data = store
    out = fitted.sample(scale={"customer": 2.0, "*": 1.0}, seed=1)

    assert len(out["customer"]) == 2 * len(data["customer"])
    assert len(out["orders"]) > 1.5 * len(data["orders"])
    assert len(out["product"]) == len(data["product"])


# ---------------------------------------------------------------------- batches and randomness


def test_batches_only_reference_earlier_rows(
    fitted: HSASynthesizer, store: tuple[Metadata, Data]
) -> None:
    metadata, _ = store
    seen: Data = {name: pd.DataFrame() for name in metadata.tables}
    batches = list(fitted.sample_batches(batch_rows=150, seed=5))

    assert len(batches) > 3
    for batch in batches:
        seen = {name: pd.concat([seen[name], batch[name]], ignore_index=True) for name in seen}
        assert_keys_hold(metadata, seen)
    assert len(seen["orders"]) == len(fitted.sample(seed=5)["orders"])


def test_sample_is_the_concatenated_batches(fitted: HSASynthesizer) -> None:
    whole = fitted.sample(seed=8)
    parts = list(fitted.sample_batches(seed=8))

    for name, frame in whole.items():
        joined = pd.concat([part[name] for part in parts], ignore_index=True)
        pd.testing.assert_frame_equal(frame, joined)


def test_reset_sampling_repeats_rows(fitted: HSASynthesizer) -> None:
    fitted.reset_sampling()
    first = fitted.sample()
    second = fitted.sample()
    fitted.reset_sampling()
    again = fitted.sample()

    pd.testing.assert_frame_equal(first["order_line"], again["order_line"])
    pd.testing.assert_frame_equal(first["customer"], again["customer"])
    assert not first["customer"].equals(second["customer"])


def test_same_seed_gives_same_rows_from_a_new_fit(store: tuple[Metadata, Data]) -> None:
    metadata, data = store
    outputs = []
    for _ in range(2):
        synthesizer = HSASynthesizer(metadata, seed=4)
        synthesizer.fit(data)
        outputs.append(synthesizer.sample(seed=9))

    for name in metadata.tables:
        pd.testing.assert_frame_equal(outputs[0][name], outputs[1][name])


def test_save_and_load_sample_the_same_rows(fitted: HSASynthesizer, tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    fitted.reset_sampling()
    fitted.save(path)
    loaded = HSASynthesizer.load(path)

    expected, actual = fitted.sample(), loaded.sample()
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(frame, actual[name])
    assert loaded.get_parameters() == fitted.get_parameters()


def test_load_refuses_other_files(tmp_path: Path) -> None:
    text, other, missing = tmp_path / "a.pkl", tmp_path / "b.pkl", tmp_path / "none.pkl"
    text.write_text("not a pickle")
    other.write_bytes(pickle.dumps({"some": "dict"}))

    for path in (text, other, missing):
        with pytest.raises(SynthesizerError):
            HSASynthesizer.load(path)


def test_progress_reports_every_table(store: tuple[Metadata, Data]) -> None:
    metadata, data = store
    calls: list[tuple[str, str, int | None]] = []
    synthesizer = HSASynthesizer(metadata)
    synthesizer.fit(data, progress=lambda *call: calls.append(call))
    synthesizer.sample(progress=lambda *call: calls.append(call))

    fit = {table: rows for stage, table, rows in calls if stage == "fit"}
    sample = {table: rows for stage, table, rows in calls if stage == "sample"}
    assert fit == {name: len(frame) for name, frame in data.items()}
    assert set(sample) == set(metadata.tables)


# ---------------------------------------------------------------------- parameters


def test_parameters_and_their_defaults(store: tuple[Metadata, Data]) -> None:
    metadata, _ = store
    synthesizer = HSASynthesizer(metadata, locales=["en_US", "fr_CA"], default_num_clusters=4)
    synthesizer.set_table_parameters(
        "customer",
        table_parameters={
            "default_distribution": "truncnorm",
            "num_clusters": 2,
            "numerical_distributions": {"score": "gamma"},
        },
    )

    assert synthesizer.get_parameters() == {
        "locales": ["en_US", "fr_CA"],
        "default_num_clusters": 4,
    }
    customer = synthesizer.get_table_parameters("customer")
    assert customer["synthesizer_name"] == "GaussianCopulaSynthesizer"
    assert customer["synthesizer_parameters"] == {
        "enforce_min_max_values": True,
        "enforce_rounding": True,
        "numerical_distributions": {"score": "gamma"},
        "default_distribution": "truncnorm",
        "num_clusters": 2,
    }
    assert synthesizer.get_table_parameters("orders")["synthesizer_parameters"]["num_clusters"] == 4


def test_returned_parameters_and_metadata_are_copies(store: tuple[Metadata, Data]) -> None:
    metadata, _ = store
    synthesizer = HSASynthesizer(metadata)
    synthesizer.get_parameters()["locales"].append("fr_FR")
    synthesizer.get_metadata().tables.pop("orders")
    parameters = synthesizer.get_table_parameters("orders")
    parameters["synthesizer_parameters"]["numerical_distributions"]["x"] = "beta"

    assert synthesizer.get_parameters()["locales"] == ["en_US"]
    assert "orders" in synthesizer.get_metadata().tables
    assert (
        synthesizer.get_table_parameters("orders")["synthesizer_parameters"][
            "numerical_distributions"
        ]
        == {}
    )


def test_learned_distributions(store: tuple[Metadata, Data]) -> None:
    metadata, data = store
    synthesizer = HSASynthesizer(metadata)
    synthesizer.set_table_parameters(
        "customer",
        table_parameters={
            "default_distribution": "truncnorm",
            "numerical_distributions": {"score": "gamma"},
        },
    )
    synthesizer.fit(data)
    learned = synthesizer.get_learned_distributions("customer")

    assert set(learned["score"]) == {"distribution", "learned_parameters"}
    assert learned["score"]["distribution"] in ("gamma", "truncnorm", "norm")
    assert set(learned["score"]["learned_parameters"]) >= {"loc", "scale"}
    assert learned["joined"]["distribution"] == "truncnorm"
    assert "score.is_null" in learned
    assert synthesizer.get_learned_distributions("coupon") == {}


def test_transformers_can_be_read_and_replaced(store: tuple[Metadata, Data]) -> None:
    metadata, data = store
    synthesizer = HSASynthesizer(metadata)
    planned = synthesizer.get_transformers("customer")
    assert isinstance(planned["score"], FloatFormatter)
    assert isinstance(planned["tier"], UniformEncoder)
    assert planned["email"] is None and planned["customer_id"] is None

    synthesizer.update_transformers("customer", {"score": FloatFormatter()})
    synthesizer.fit(data)
    fitted = synthesizer.get_transformers("customer")

    assert isinstance(fitted["score"], FloatFormatter)
    assert fitted["score"].missing_value_generation == "random"
    with pytest.raises(SynthesizerError, match="generated"):
        synthesizer.update_transformers("customer", {"email": FloatFormatter()})


# ---------------------------------------------------------------------- errors


def test_errors_say_what_is_wrong(store: tuple[Metadata, Data]) -> None:
    metadata, data = store
    synthesizer = HSASynthesizer(metadata)
    cases = [
        (lambda: synthesizer.get_table_parameters("nope"), "unknown table 'nope'"),
        (
            lambda: synthesizer.set_table_parameters("orders", "FancySynthesizer"),
            "unknown synthesizer",
        ),
        (
            lambda: synthesizer.set_table_parameters("orders", table_parameters={"epochs": 3}),
            "no parameter 'epochs'",
        ),
        (
            lambda: synthesizer.set_table_parameters(
                "orders", table_parameters={"default_distribution": "cauchy"}
            ),
            "unknown distribution",
        ),
        (
            lambda: synthesizer.set_table_parameters(
                "orders", table_parameters={"num_clusters": 0}
            ),
            "num_clusters",
        ),
        (lambda: synthesizer.sample(), "not fitted"),
        (lambda: synthesizer.get_learned_distributions("orders"), "not fitted"),
        (lambda: synthesizer.fit({"orders": data["orders"]}), "missing: "),
        (
            lambda: synthesizer.fit({**data, "orders": data["orders"].drop(columns="status")}),
            "missing: status",
        ),
        (lambda: HSASynthesizer(metadata, locales=["xx_YY"]), "unknown locale"),
        (lambda: HSASynthesizer(metadata, default_num_clusters=0), "default_num_clusters"),
        (lambda: synthesizer.set_primary_relationship("employee", "employee"), "can be primary"),
    ]
    for call, message in cases:
        with pytest.raises(SynthesizerError, match=message):
            call()


def test_sampling_errors(fitted: HSASynthesizer) -> None:
    with pytest.raises(SynthesizerError, match="positive"):
        fitted.sample(scale=0)
    with pytest.raises(SynthesizerError, match="unknown table"):
        fitted.sample(scale={"nope": 1.0})
    with pytest.raises(SynthesizerError, match="batch_rows"):
        fitted.sample_batches(batch_rows=0)
    with pytest.raises(SynthesizerError, match="only for neural"):
        fitted.get_loss_values("orders")


def test_invalid_metadata_is_refused() -> None:
    metadata = Metadata()
    metadata.add_table("t")
    metadata.add_column("t", "a", sdtype="nonsense")

    with pytest.raises(MetadataError):
        HSASynthesizer(metadata)


def test_neural_synthesizers_need_the_extra(store: tuple[Metadata, Data]) -> None:
    pytest.importorskip("numpy")
    try:
        import ctgan  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("ctgan is installed here")
    metadata, _ = store
    synthesizer = HSASynthesizer(metadata)

    with pytest.raises(SynthesizerError, match=r"hsa-db\[deep\]"):
        synthesizer.set_table_parameters("orders", "CTGANSynthesizer", {"epochs": 5})


@pytest.mark.slow
@pytest.mark.parametrize("name", ["CTGANSynthesizer", "TVAESynthesizer", "CopulaGANSynthesizer"])
def test_neural_tables(store: tuple[Metadata, Data], name: str) -> None:
    pytest.importorskip("ctgan", reason="the optional ctgan package is not installed")
    metadata, data = store
    synthesizer = HSASynthesizer(metadata)
    synthesizer.set_table_parameters("customer", name, {"epochs": 2, "cuda": False})
    synthesizer.fit(data)
    out = synthesizer.sample(seed=0)

    assert_keys_hold(metadata, out)
    assert_same_dtypes(data, out)
    losses = synthesizer.get_loss_values("customer")
    assert list(losses["Epoch"]) == [1, 2]
    assert "Loss" in losses or "Generator Loss" in losses


def test_set_primary_relationship_changes_the_forest(store: tuple[Metadata, Data]) -> None:
    metadata, data = store
    synthesizer = HSASynthesizer(metadata)
    synthesizer.set_primary_relationship("order_line", "product")
    synthesizer.fit(data)
    out = synthesizer.sample(seed=2)

    assert_keys_hold(metadata, out)
    assert np.isclose(len(out["order_line"]), len(data["order_line"]), rtol=0.3)
