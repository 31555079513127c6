"""Column codecs and table transformers: every dtype of the frame contract in and out."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import numpy as np
import pandas as pd
import pytest

from hsa_db import HSASynthesizer
from hsa_db.codecs import ColumnCodec
from hsa_db.generate import ValueFactory
from hsa_db.metadata import Column, Metadata
from hsa_db.transform import GenerationState, TableTransformer
from tests.frame_checks import assert_same_dtypes

ROWS = 120


def every_type(rows: int = ROWS, seed: int = 0) -> tuple[Metadata, pd.DataFrame]:
    """One table with a column of every type of the frame contract."""
    rng = np.random.default_rng(seed)
    columns = {
        "id": ("id", "integer", pd.array(range(1, rows + 1), dtype="Int32")),
        "small": ("numerical", "smallint", pd.array(rng.integers(-50, 50, rows), dtype="Int16")),
        "big": ("numerical", "bigint", pd.array(rng.integers(0, 10**12, rows), dtype="Int64")),
        "price": (
            "numerical",
            "numeric(6,2)",
            [decimal.Decimal(f"{v:.2f}") for v in rng.uniform(0, 9999, rows)],
        ),
        "ratio": ("numerical", "double", rng.normal(size=rows)),
        "flag": ("boolean", "boolean", pd.array(rng.random(rows) < 0.3, dtype="boolean")),
        "kind": ("categorical", "enum", rng.choice(["a", "b", "c"], rows).astype(object)),
        "code": ("categorical", "char(2)", np.array(["xx", "yy", None])[rng.integers(0, 3, rows)]),
        "day": (
            "datetime",
            "date",
            [dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 999, rows)],
        ),
        "at": (
            "datetime",
            "time",
            [
                dt.time(int(h), int(m))
                for h, m in zip(rng.integers(0, 24, rows), rng.integers(0, 60, rows), strict=True)
            ],
        ),
        "stamp": (
            "datetime",
            "timestamp",
            pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 10**8, rows), "s"),
        ),
        "stamp_tz": (
            "datetime",
            "timestamptz",
            pd.Timestamp("2021-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 10**8, rows), "s"),
        ),
        "wait": ("numerical", "interval", pd.to_timedelta(rng.integers(0, 10**5, rows), "s")),
        "doc": ("unknown", "json", [json.dumps({"k": int(v)}) for v in rng.integers(0, 9, rows)]),
        "tags": ("unknown", "text[]", [["a", "b"][: int(v)] for v in rng.integers(0, 3, rows)]),
        "blob": ("unknown", "binary", [bytes(int(v)) for v in rng.integers(1, 30, rows)]),
        "note": ("text", "varchar(30)", [f"some words {i} here" for i in range(rows)]),
        "city": ("city", "varchar(8)", [f"City {i}" for i in range(rows)]),
        "empty": ("numerical", "integer", pd.array([None] * rows, dtype="Int32")),
    }
    metadata = Metadata()
    metadata.add_table("things")
    frame = {}
    for name, (sdtype, sql_type, values) in columns.items():
        metadata.add_column("things", name, sdtype=sdtype, sql_type=sql_type)
        frame[name] = values
    metadata.update_column("things", "kind", enum_values=["a", "b", "c"])
    metadata.set_primary_key("things", "id")
    data = pd.DataFrame(frame)
    data["code"] = data["code"].astype(object)
    data["stamp_tz"] = data["stamp_tz"].astype("datetime64[ns, UTC]")
    return metadata, data


@pytest.fixture(scope="module")
def things() -> tuple[Metadata, pd.DataFrame]:
    return every_type()


def test_a_synthesizer_keeps_every_dtype(things: tuple[Metadata, pd.DataFrame]) -> None:
    metadata, data = things
    synthesizer = HSASynthesizer(metadata)
    synthesizer.fit({"things": data})
    out = synthesizer.sample(seed=0)["things"]

    assert_same_dtypes({"things": data}, {"things": out})
    assert len(out) == ROWS
    assert out["small"].between(-50, 50).all()
    assert all(abs(v) <= decimal.Decimal("9999.99") for v in out["price"])
    assert set(out["kind"]) <= {"a", "b", "c"}
    assert all(isinstance(v, dt.date) for v in out["day"])
    assert all(isinstance(v, dt.time) for v in out["at"])
    assert set(out["doc"]) == {"{}"}
    assert all(v == [] for v in out["tags"])
    assert all(isinstance(v, bytes) for v in out["blob"])
    assert out["note"].str.len().max() <= 30
    assert out["city"].str.len().max() <= 8
    assert out["empty"].isna().all()


def test_transformer_roles_and_columns(things: tuple[Metadata, pd.DataFrame]) -> None:
    metadata, data = things
    transformer = TableTransformer(metadata, "things")
    transformer.fit(data)
    numbers = transformer.transform(data)

    assert transformer.roles["id"] == "key"
    assert transformer.roles["note"] == "text"
    assert transformer.roles["city"] == "pii"
    assert transformer.roles["empty"] == "null"
    assert {transformer.roles[c] for c in ("doc", "tags", "blob")} == {"unknown"}
    assert "note.length" in numbers and "blob.length" in numbers
    assert numbers.dtypes.map(lambda dtype: dtype == np.float64).all()
    assert "kind" in transformer.discrete_columns and "ratio" not in transformer.discrete_columns


def test_reverse_transform_of_real_rows_gives_their_learned_values(
    things: tuple[Metadata, pd.DataFrame],
) -> None:
    metadata, data = things
    transformer = TableTransformer(metadata, "things")
    transformer.fit(data)
    state = GenerationState(ValueFactory(["en_US"]))
    back = transformer.reverse_transform(
        transformer.transform(data), state, np.random.default_rng(0)
    )

    for column in ("small", "big", "price", "flag", "kind", "code", "day", "at", "stamp", "wait"):
        pd.testing.assert_series_equal(back[column], data[column], check_names=False)
    assert back["id"].isna().all()


@pytest.mark.parametrize(
    ("sql_type", "values", "plain", "expected"),
    [
        (
            "smallint",
            pd.array([1, None], dtype="Int16"),
            [1e9, np.nan],
            pd.array([32767, None], dtype="Int16"),
        ),
        (
            "numeric(4,1)",
            [decimal.Decimal("1.5"), None],
            [12345.678, 2.04],
            [decimal.Decimal("999.9"), decimal.Decimal("2.0")],
        ),
        (
            "interval",
            pd.to_timedelta([1, 2], unit="s"),
            [90.0, np.nan],
            pd.to_timedelta([90, None], unit="s"),
        ),
        (
            "time",
            [dt.time(1, 2), None],
            [3661.5, 86400.0],
            [dt.time(1, 1, 1, 500000), dt.time(23, 59, 59, 999999)],
        ),
    ],
)
def test_codec_limits(sql_type: str, values: object, plain: list[float], expected: object) -> None:
    series = pd.Series(values)
    codec = ColumnCodec.fit(series, Column("c", sdtype="numerical", sql_type=sql_type))
    back = codec.from_numbers(pd.Series(plain, dtype="float64"))

    assert back.dtype == series.dtype
    assert back.tolist() == pd.Series(expected, dtype=series.dtype).tolist()


def test_codec_truncates_text_to_the_column_length() -> None:
    series = pd.Series(["ab", None], dtype=object)
    codec = ColumnCodec.fit(series, Column("c", sdtype="categorical", sql_type="varchar(3)"))

    assert codec.from_objects(pd.Series(["abcdef", None], dtype=object)).tolist() == ["abc", None]


def test_codec_reads_datetimes_written_as_text() -> None:
    series = pd.Series(["2021-03-04", "2022-01-02", None], dtype=object)
    codec = ColumnCodec.fit(series, Column("c", sdtype="datetime", sql_type="varchar(10)"))
    numbers = codec.to_numbers(series)

    assert str(numbers.dtype) == "datetime64[ns]"
    assert codec.from_numbers(numbers).tolist() == ["2021-03-04", "2022-01-02", None]
