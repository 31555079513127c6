"""hsa-db: database-native synthetic data.

Reads a live schema, learns a Hierarchical Segmentation Algorithm model of the rows, and
writes a synthetic database with the same schema and keys that join.
"""

from hsa_db.errors import (
    ConfigError,
    DatabaseError,
    HsaDbError,
    MetadataError,
    SynthesizerError,
    WriteError,
)
from hsa_db.hsa import HSASynthesizer
from hsa_db.metadata import Metadata
from hsa_db.read import read_tables
from hsa_db.write import write_tables

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DatabaseError",
    "HSASynthesizer",
    "HsaDbError",
    "Metadata",
    "MetadataError",
    "SynthesizerError",
    "WriteError",
    "__version__",
    "read_tables",
    "write_tables",
]
