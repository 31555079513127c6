"""Writing a synthetic database into a target: DDL per dialect, bulk load, then constraints,
indexes and sequences, all or nothing."""

from hsa_db.write.writer import WriteSummary, create_schema_only, schema_ddl, write_tables

__all__ = ["WriteSummary", "create_schema_only", "schema_ddl", "write_tables"]
