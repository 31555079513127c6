"""Domain errors: every failure a user can cause is one of these, with a message that says
what is wrong and what to do."""


class HsaDbError(Exception):
    """Root of every error hsa-db raises on purpose."""


class MetadataError(HsaDbError):
    """The metadata is inconsistent or names something that does not exist."""


class DatabaseError(HsaDbError):
    """A database could not be reached, read or written."""


class SynthesizerError(HsaDbError):
    """The synthesizer was used out of order or with unknown parameters."""


class ConfigError(HsaDbError):
    """A configuration file or option is invalid."""


class WriteError(DatabaseError):
    """Writing the synthetic database failed; the message says what is left in the target."""
