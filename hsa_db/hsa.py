"""``HSASynthesizer``: the Hierarchical Segmentation Algorithm over a whole database.

Every table with foreign keys gets one primary parent, so that the primary relationships form
a forest. Each table is split into segments by k-means over what its rows look like with their
descendants (own columns; per primary child relationship, the number of children and what they
look like on average, condensed) and over its primary parent's segment, weighted by how much
that segment explains the rows, so that segments along a chain line up. Each segment has its
own row model and, per primary child relationship, the empirical distribution of its rows'
children (count and segment mix together). Sampling runs parents before children, so a
parent's segment decides its children's number and segments and the signal travels down the
chain. Inside a segment, a child's row model is a copula conditioned on its parent row's
lineage (the parent's own columns condensed, then the parent's own ancestors':
:mod:`hsa_db.context`), so that a child column still follows a parent or grandparent column
within a segment. Foreign keys outside the primary forest are matched afterwards with the real
degree distribution and segment dependence.

Randomness: ``seed`` (constructor) fixes fitting and the sequence of ``sample`` calls; every
call without a seed continues that sequence, :meth:`reset_sampling` starts it over, and
``sample(seed=...)`` gives rows that depend on the fitted model, that seed and the scale only.
"""

from __future__ import annotations

import copy
import logging
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rdt.transformers import BaseTransformer

from hsa_db.context import Lineage, child_context
from hsa_db.errors import SynthesizerError
from hsa_db.generate import check_locales
from hsa_db.keys import ForestStatistics, KeyGenerator, LinkStatistics, key_positions
from hsa_db.metadata import Metadata
from hsa_db.progress import Progress
from hsa_db.sampling import HSAModel, SamplingRun, TableModel
from hsa_db.segments import (
    ChildStatistics,
    choose_primary,
    cluster,
    describe,
    eligible_parents,
    parent_segments,
    summaries,
)
from hsa_db.tables import (
    DEFAULT_SYNTHESIZER,
    NUM_CLUSTERS,
    check_parameters,
    create_row_model,
    default_parameters,
)
from hsa_db.transform import TableTransformer

log = logging.getLogger(__name__)


_FILE_MARK = "hsa-db synthesizer"
_FILE_VERSION = 1
DEFAULT_BATCH_ROWS = 10_000
#: Segments a grandparent table gets beyond ``default_num_clusters``.
GRANDPARENT_EXTRA_SEGMENTS = 2
#: Rows per segment a grandparent needs for each of its extra segments.
MIN_SEGMENT_ROWS = 10


class HSASynthesizer:
    """Learns a database's rows and relationships and samples synthetic ones.

    Args:
        metadata: The tables, columns, keys and relationships of the database.
        locales: Faker locales for PII columns, e.g. ``['en_US', 'fr_CA']``.
        default_num_clusters: Segments per table unless a table sets ``num_clusters``: the
            base. A table whose children have children of their own along the primary
            relationships (a grandparent) gets up to ``GRANDPARENT_EXTRA_SEGMENTS`` more when
            the base is above 1 and it has ``MIN_SEGMENT_ROWS`` rows per segment: its segments
            carry signal down two levels.
        seed: Fixes every random choice of fitting and of the sequence of samples.
    """

    def __init__(
        self,
        metadata: Metadata,
        locales: list[str] | None = None,
        default_num_clusters: int = 3,
        seed: int = 0,
    ) -> None:
        metadata.validate()
        locales = list(locales) if locales is not None else ["en_US"]
        check_locales(locales)
        if (
            isinstance(default_num_clusters, bool)
            or not isinstance(default_num_clusters, int)
            or default_num_clusters < 1
        ):
            raise SynthesizerError("default_num_clusters must be a whole number of at least 1")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SynthesizerError("seed must be a whole number of at least 0")

        self._metadata = metadata.copy()
        self._locales = locales
        self._default_num_clusters = default_num_clusters
        self._seed = seed
        self._synthesizers: dict[str, str] = {}
        self._parameters: dict[str, dict[str, Any]] = {}
        self._transformers: dict[str, dict[str, BaseTransformer]] = {}
        self._primary_overrides: dict[str, int] = {}
        self._model: HSAModel | None = None
        self._sampling_calls = 0

    # ------------------------------------------------------------------ parameters

    def get_parameters(self) -> dict[str, Any]:
        """The synthesizer-wide parameters (a copy)."""
        return {
            "locales": list(self._locales),
            "default_num_clusters": self._default_num_clusters,
        }

    def get_metadata(self) -> Metadata:
        """The metadata the synthesizer was made with (a copy)."""
        return self._metadata.copy()

    def set_table_parameters(
        self,
        table_name: str,
        table_synthesizer: str = DEFAULT_SYNTHESIZER,
        table_parameters: dict[str, Any] | None = None,
    ) -> None:
        """Choose a table's single-table synthesizer and its parameters (``num_clusters``
        included); parameters not given take their defaults."""
        table = self._table(table_name)
        parameters = dict(table_parameters or {})
        check_parameters(table_name, table_synthesizer, parameters, table.column_names)
        if table_synthesizer != DEFAULT_SYNTHESIZER:
            from hsa_db.tables.neural import import_ctgan

            import_ctgan()
        self._synthesizers[table_name] = table_synthesizer
        self._parameters[table_name] = copy.deepcopy(parameters)
        self._refit_needed()

    def get_table_parameters(self, table_name: str) -> dict[str, Any]:
        """``{'synthesizer_name': ..., 'synthesizer_parameters': {...}}`` with defaults filled."""
        self._table(table_name)
        name = self._synthesizers.get(table_name, DEFAULT_SYNTHESIZER)
        parameters = default_parameters(name)
        parameters[NUM_CLUSTERS] = self._default_num_clusters
        parameters.update(copy.deepcopy(self._parameters.get(table_name, {})))
        return {"synthesizer_name": name, "synthesizer_parameters": parameters}

    def set_primary_relationship(
        self,
        child_table_name: str,
        parent_table_name: str,
        child_foreign_key: str | list[str] | None = None,
    ) -> None:
        """Make this relationship the child's primary one (the one its segments follow)."""
        self._table(child_table_name)
        order = self._metadata.topological_order()
        wanted = [child_foreign_key] if isinstance(child_foreign_key, str) else child_foreign_key
        for index in eligible_parents(self._metadata, child_table_name, order):
            relationship = self._metadata.relationships[index]
            if relationship.parent_table == parent_table_name and (
                wanted is None or relationship.child_columns == list(wanted)
            ):
                self._primary_overrides[child_table_name] = index
                self._refit_needed()
                return
        raise SynthesizerError(
            f"no relationship from {child_table_name!r} to {parent_table_name!r} can be primary "
            "(self-references and keys that close a cycle cannot); check the table names"
        )

    def update_transformers(
        self, table_name: str, column_name_to_transformer: dict[str, BaseTransformer]
    ) -> None:
        """Use these RDT transformers for a table's learned columns (takes effect at fit)."""
        planned = self._planned_transformer(table_name).plan_transformers()
        for column, transformer in column_name_to_transformer.items():
            if column not in planned:
                raise SynthesizerError(f"table {table_name!r} has no column {column!r}")
            if planned[column] is None:
                raise SynthesizerError(
                    f"column {table_name}.{column} is a key or a generated column (PII, text, "
                    "id, unknown); only learned columns take transformers"
                )
            if not isinstance(transformer, BaseTransformer):
                raise SynthesizerError(
                    f"the transformer for {table_name}.{column} must be an RDT transformer"
                )
        self._transformers.setdefault(table_name, {}).update(column_name_to_transformer)
        self._refit_needed()

    def get_transformers(self, table_name: str) -> dict[str, BaseTransformer | None]:
        """The RDT transformer of every column (None for keys and generated columns)."""
        self._table(table_name)
        if self._model is not None:
            return self._model.tables[table_name].transformer.get_transformers()
        return self._planned_transformer(table_name).plan_transformers()

    def _planned_transformer(self, table_name: str) -> TableTransformer:
        self._table(table_name)
        parameters = self.get_table_parameters(table_name)
        settings = parameters["synthesizer_parameters"]
        encoding = "uniform" if parameters["synthesizer_name"] == DEFAULT_SYNTHESIZER else "label"
        return TableTransformer(
            self._metadata,
            table_name,
            categorical_encoding=encoding,
            enforce_min_max_values=settings["enforce_min_max_values"],
            enforce_rounding=settings["enforce_rounding"],
            overrides=self._transformers.get(table_name),
        )

    def _refit_needed(self) -> None:
        if self._model is not None:
            log.warning("the synthesizer's settings changed; fit it again before sampling")
            self._model = None

    # ------------------------------------------------------------------ fitting

    def fit(self, data: dict[str, pd.DataFrame], progress: Progress | None = None) -> None:
        """Learn every table, its segments and the relationships from the real rows."""
        self._check_data(data)
        metadata = self._metadata
        order = metadata.topological_order()
        positions = {
            index: key_positions(
                [data[rel.parent_table][c] for c in rel.parent_columns],
                [data[rel.child_table][c] for c in rel.child_columns],
            )
            for index, rel in enumerate(metadata.relationships)
        }
        rows = {name: len(data[name]) for name in order}
        primary = choose_primary(metadata, order, positions, rows, self._primary_overrides)
        for child, index in primary.items():
            log.info(
                "primary relationship of %s: %s", child, describe(metadata.relationships[index])
            )

        transformers, numbers = {}, {}
        for name in order:
            transformers[name], numbers[name] = self._transform_table(name, data[name])
        edges = {name: transformers[name].category_edges() for name in order}
        features = summaries(order, numbers, primary, positions, metadata, edges)
        parents = {metadata.relationships[index].parent_table for index in primary.values()}
        grandparents = {
            metadata.relationships[index].parent_table
            for child, index in primary.items()
            if child in parents
        }

        tables: dict[str, TableModel] = {}
        labels: dict[str, np.ndarray] = {}
        lineages: dict[str, np.ndarray] = {}
        for name in order:
            matrix = self._with_parent_segment(
                features.pop(name), primary.get(name), positions, tables, labels
            )
            context = self._context(name, primary.get(name), positions, lineages)
            segments = self._num_segments(name, rows[name], name in grandparents)
            tables[name], labels[name] = self._fit_table(
                name,
                data[name],
                transformers[name],
                numbers[name],
                matrix,
                order,
                context,
                segments,
            )
            if name in parents:
                lineage = Lineage.fit(numbers[name], edges[name])
                tables[name].lineage = lineage
                lineages[name] = lineage.apply(numbers[name], context)
            del numbers[name]
            if progress is not None:
                progress("fit", name, rows[name])

        self._model = self._relationship_model(order, tables, labels, primary, positions)
        self._sampling_calls = 0

    def _num_segments(self, name: str, rows: int, grandparent: bool) -> int:
        """How many segments the table asks k-means for: its own ``num_clusters``, else the
        default, plus a few for a grandparent with rows enough to fill them."""
        own = self._parameters.get(name, {}).get(NUM_CLUSTERS)
        if own is not None:
            return int(own)
        base = self._default_num_clusters
        if not grandparent or base <= 1:
            return base
        return max(base, min(base + GRANDPARENT_EXTRA_SEGMENTS, rows // MIN_SEGMENT_ROWS))

    def _with_parent_segment(
        self,
        matrix: np.ndarray,
        link: int | None,
        positions: dict[int, np.ndarray],
        tables: dict[str, TableModel],
        labels: dict[str, np.ndarray],
    ) -> np.ndarray:
        """The segmentation features of a table, plus its primary parent's segment."""
        if link is None or not len(matrix):
            return matrix
        parent = self._metadata.relationships[link].parent_table
        inherited = parent_segments(
            positions[link], labels[parent], tables[parent].num_segments, matrix
        )
        return np.column_stack([matrix, inherited])

    def _context(
        self,
        name: str,
        link: int | None,
        positions: dict[int, np.ndarray],
        lineages: dict[str, np.ndarray],
    ) -> np.ndarray | None:
        """What the rows' ancestors look like: the primary parent row's lineage."""
        if link is None:
            return None
        parent = self._metadata.relationships[link].parent_table
        return child_context(lineages[parent], positions[link])

    def _transform_table(
        self, name: str, frame: pd.DataFrame
    ) -> tuple[TableTransformer, pd.DataFrame]:
        """Fit the table's transformer; its rows as numbers."""
        transformer = self._planned_transformer(name)
        frame = frame.reset_index(drop=True)
        transformer.fit(frame)
        numbers = transformer.transform(frame) if len(frame) else pd.DataFrame(index=frame.index)
        return transformer, numbers

    def _fit_table(
        self,
        name: str,
        frame: pd.DataFrame,
        transformer: TableTransformer,
        numbers: pd.DataFrame,
        features: np.ndarray,
        order: list[str],
        context: np.ndarray | None,
        num_segments: int,
    ) -> tuple[TableModel, np.ndarray]:
        """Segment and model one table; also returns the segment label of every row."""
        parameters = self.get_table_parameters(name)
        settings = parameters["synthesizer_parameters"]
        rng = np.random.default_rng([self._seed, 1, order.index(name)])
        labels, k = cluster(features, num_segments, int(rng.integers(0, 2**31 - 1)))

        row_model = None
        if len(frame) and numbers.shape[1]:
            row_model = create_row_model(parameters["synthesizer_name"], settings)
            row_model.fit(numbers, labels, k, rng, transformer.discrete_columns, context)
        counts = np.bincount(labels, minlength=k)

        foreign = self._metadata.foreign_key_columns(name)
        generators = {
            column: KeyGenerator.fit(frame[column], transformer.codecs[column])
            for column, role in transformer.roles.items()
            if role == "key" and column not in foreign
        }
        table = TableModel(
            name, len(frame), list(frame.columns), transformer, row_model, k, counts, generators
        )
        return table, labels

    def _relationship_model(
        self,
        order: list[str],
        tables: dict[str, TableModel],
        labels: dict[str, np.ndarray],
        primary: dict[str, int],
        positions: dict[int, np.ndarray],
    ) -> HSAModel:
        """Statistics of every relationship, from the segments of both sides."""
        rank = {name: position for position, name in enumerate(order)}
        children: dict[int, ChildStatistics] = {}
        links: dict[int, LinkStatistics] = {}
        forests: dict[int, ForestStatistics] = {}
        deferred: set[int] = set()
        primary_indexes = set(primary.values())
        for index, rel in enumerate(self._metadata.relationships):
            child, parent = tables[rel.child_table], tables[rel.parent_table]
            sides = (
                labels[rel.child_table],
                child.num_segments,
                labels[rel.parent_table],
                parent.num_segments,
            )
            if rel.is_self_reference:
                forests[index] = ForestStatistics.fit(positions[index])
            elif index in primary_indexes:
                children[index] = ChildStatistics.fit(positions[index], *sides)
            else:
                child_segments, child_k, parent_segments, parent_k = sides
                links[index] = LinkStatistics.fit(
                    positions[index], child_segments, parent_segments, child_k, parent_k
                )
                if rank[rel.parent_table] >= rank[rel.child_table]:
                    deferred.add(index)
        return HSAModel(order, tables, primary, children, links, forests, deferred)

    def _check_data(self, data: dict[str, pd.DataFrame]) -> None:
        if not isinstance(data, dict):
            raise SynthesizerError("fit takes a dict of DataFrames by table name")
        missing = [name for name in self._metadata.tables if name not in data]
        extra = [name for name in data if name not in self._metadata.tables]
        if missing or extra:
            raise SynthesizerError(
                "the data's tables do not match the metadata"
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; not in the metadata: {', '.join(extra)}" if extra else "")
            )
        for name, table in self._metadata.tables.items():
            frame = data[name]
            if not isinstance(frame, pd.DataFrame):
                raise SynthesizerError(f"the data of table {name!r} is not a pandas DataFrame")
            absent = [column for column in table.columns if column not in frame.columns]
            unknown = [column for column in frame.columns if column not in table.columns]
            if absent or unknown:
                raise SynthesizerError(
                    f"the columns of table {name!r} do not match the metadata"
                    + (f"; missing: {', '.join(absent)}" if absent else "")
                    + (f"; not in the metadata: {', '.join(map(str, unknown))}" if unknown else "")
                )

    # ------------------------------------------------------------------ sampling

    def sample(
        self,
        scale: float | dict[str, float] = 1.0,
        seed: int | None = None,
        progress: Progress | None = None,
    ) -> dict[str, pd.DataFrame]:
        """Synthetic rows of every table; ``scale`` multiplies the root tables' row counts
        (a dict gives some tables their own scale, ``'*'`` the rest)."""
        parts: dict[str, list[pd.DataFrame]] = {name: [] for name in self._metadata.tables}
        for batch in self.sample_batches(scale, DEFAULT_BATCH_ROWS, seed, progress):
            for name, frame in batch.items():
                parts[name].append(frame)

        out = {}
        for name, frames in parts.items():
            out[name] = (
                pd.concat(frames, ignore_index=True)
                if len(frames) > 1
                else (frames[0].reset_index(drop=True) if frames else self._empty(name))
            )
        return out

    def sample_batches(
        self,
        scale: float | dict[str, float] = 1.0,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        seed: int | None = None,
        progress: Progress | None = None,
    ) -> Iterator[dict[str, pd.DataFrame]]:
        """Synthetic rows in batches of about ``batch_rows`` rows.

        Each batch maps every table, in dependency order, to its new rows (root rows with all
        their descendants); every foreign key points at a row of the same or an earlier batch.
        Memory follows the batch, plus the keys of rows that later rows may reference.
        The rows depend on the model, the seed, the scale and ``batch_rows``.
        """
        model = self._fitted()
        if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
            raise SynthesizerError("batch_rows must be a whole number of at least 1")
        if seed is None:
            self._sampling_calls += 1
            entropy = [self._seed, self._sampling_calls]
        elif isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SynthesizerError("seed must be a whole number of at least 0")
        else:
            entropy = [seed, 0]
        run = SamplingRun(self._metadata, model, self._locales, scale, entropy)
        return self._run(run, batch_rows, progress)

    def _run(
        self, run: SamplingRun, batch_rows: int, progress: Progress | None
    ) -> Iterator[dict[str, pd.DataFrame]]:
        yield from run.batches(batch_rows)
        if progress is not None:
            for name in self._fitted().order:
                progress("sample", name, run.totals[name])

    def reset_sampling(self) -> None:
        """Start the sequence of samples over: the next ``sample`` repeats the first one."""
        self._sampling_calls = 0

    def _empty(self, name: str) -> pd.DataFrame:
        table = self._fitted().tables[name]
        codecs = table.transformer.codecs
        return pd.DataFrame({column: codecs[column].empty() for column in table.columns})

    # ------------------------------------------------------------------ inspecting

    def get_learned_distributions(self, table_name: str) -> dict[str, dict[str, Any]]:
        """``{column: {'distribution': name, 'learned_parameters': {...}}}`` of the table's
        whole-table marginals (transformed column names, e.g. ``amount.is_null``)."""
        table = self._fitted_table(table_name)
        if table.row_model is None:
            return {}
        return table.row_model.learned_distributions()

    def get_loss_values(self, table_name: str) -> pd.DataFrame:
        """Loss per epoch of a neural table (CTGAN, TVAE, CopulaGAN)."""
        table = self._fitted_table(table_name)
        if table.row_model is None:
            raise SynthesizerError(f"table {table_name!r} has no learned columns, so no losses")
        return table.row_model.loss_values()

    def _fitted(self) -> HSAModel:
        if self._model is None:
            raise SynthesizerError("the synthesizer is not fitted; call fit(data) first")
        return self._model

    def _fitted_table(self, table_name: str) -> TableModel:
        self._table(table_name)
        return self._fitted().tables[table_name]

    def _table(self, table_name: str) -> Any:
        if table_name not in self._metadata.tables:
            self._no_table(table_name)
        return self._metadata.tables[table_name]

    def _no_table(self, table_name: str) -> Any:
        known = ", ".join(sorted(self._metadata.tables)) or "none"
        raise SynthesizerError(f"unknown table {table_name!r}; known tables: {known}")

    # ------------------------------------------------------------------ files

    def save(self, filepath: str | Path) -> None:
        """Write the synthesizer (fitted or not) to a pickle file."""
        payload = {"format": _FILE_MARK, "version": _FILE_VERSION, "synthesizer": self}
        try:
            with open(filepath, "wb") as file:
                pickle.dump(payload, file, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError as error:
            raise SynthesizerError(f"cannot write {str(filepath)!r}: {error.strerror}") from None

    @classmethod
    def load(cls, filepath: str | Path) -> HSASynthesizer:
        """Read a synthesizer written by :meth:`save`."""
        try:
            with open(filepath, "rb") as file:
                payload = pickle.load(file)
        except FileNotFoundError:
            raise SynthesizerError(f"{str(filepath)!r} does not exist") from None
        except ModuleNotFoundError as error:
            raise SynthesizerError(
                f"{str(filepath)!r} needs the {error.name} package; install hsa-db[deep] for "
                "neural tables"
            ) from None
        except (
            pickle.UnpicklingError,
            EOFError,
            AttributeError,
            ImportError,
            ValueError,
            TypeError,
            IndexError,
            KeyError,
            OSError,
        ):
            payload = None
        if not (
            isinstance(payload, dict)
            and payload.get("format") == _FILE_MARK
            and isinstance(payload.get("synthesizer"), cls)
        ):
            raise SynthesizerError(
                f"{str(filepath)!r} is not a saved hsa-db synthesizer; save one with "
                "HSASynthesizer.save"
            )
        synthesizer: HSASynthesizer = payload["synthesizer"]
        return synthesizer
