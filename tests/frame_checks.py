"""Checks on sampled DataFrames, shared by the synthesizer tests: keys join and stay unique."""

from __future__ import annotations

import pandas as pd

from hsa_db.metadata import Metadata


def dangling_keys(metadata: Metadata, data: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Per relationship, the child rows whose non-NULL key matches no parent row."""
    found = {}
    for rel in metadata.relationships:
        child = data[rel.child_table][rel.child_columns].dropna()
        parent = data[rel.parent_table][rel.parent_columns]
        parent_keys = set(map(tuple, parent.astype(object).itertuples(index=False)))
        child_keys = map(tuple, child.astype(object).itertuples(index=False))
        found[f"{rel.child_table}{rel.child_columns}"] = sum(
            key not in parent_keys for key in child_keys
        )
    return found


def duplicated_keys(metadata: Metadata, data: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Per primary or unique key, the rows whose non-NULL key repeats an earlier row."""
    found = {}
    for table in metadata.tables.values():
        for key in [table.primary_key, *table.unique_constraints]:
            if key:
                values = data[table.name][key].dropna()
                found[f"{table.name}{key}"] = int(values.duplicated().sum())
    return found


def assert_keys_hold(metadata: Metadata, data: dict[str, pd.DataFrame]) -> None:
    """Every foreign key joins and every primary and unique key is unique."""
    dangling = {name: count for name, count in dangling_keys(metadata, data).items() if count}
    duplicated = {name: count for name, count in duplicated_keys(metadata, data).items() if count}
    assert not dangling, f"foreign keys without a parent row: {dangling}"
    assert not duplicated, f"repeated keys: {duplicated}"


def assert_same_dtypes(real: dict[str, pd.DataFrame], synthetic: dict[str, pd.DataFrame]) -> None:
    """The synthetic tables have the real tables' columns, in order, with the same dtypes."""
    for name, frame in real.items():
        assert list(synthetic[name].columns) == list(frame.columns), name
        different = {
            column: (str(frame[column].dtype), str(synthetic[name][column].dtype))
            for column in frame.columns
            if frame[column].dtype != synthetic[name][column].dtype
        }
        assert not different, f"{name}: {different}"
