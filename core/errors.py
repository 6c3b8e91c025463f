"""Error hierarchy for mailmind, grouped by who can act on the error.

::

    MailmindError                      base of everything we raise on purpose
    ├── ConfigError                    settings are wrong; the message says which variable
    ├── InputError                     the caller gave something unusable (path, id, args)
    │   ├── SourceError                a mail/calendar/contact source cannot be opened at all
    │   └── NotFoundError              an id that does not exist *for this user*
    ├── ParseError                     one item could not be parsed; it is quarantined, not fatal
    ├── StoreError                     the relational store failed (infrastructure)
    │   └── MigrationError             the on-disk schema cannot be brought up to date
    ├── VectorIndexError               the vector index failed (infrastructure)
    ├── ModelError                     a model or runtime failed (infrastructure)
    │   └── ModelNotFoundError         weights are missing; the message names the pull command
    └── SyncError                      a remote server (IMAP/CalDAV/CardDAV) failed

``InputError`` and ``NotFoundError`` are errors a model can act on (tools turn them into tool
messages); the rest propagate to the CLI / API error handlers.
"""

from __future__ import annotations


class MailmindError(Exception):
    """Base class for all errors mailmind raises deliberately."""

    #: Short machine-readable code used by the CLI's JSON output and the API's problem+json.
    code: str = "mailmind_error"


class ConfigError(MailmindError):
    """Settings are invalid or incomplete."""

    code = "config_error"


class InputError(MailmindError):
    """The caller supplied an unusable argument."""

    code = "input_error"


class SourceError(InputError):
    """A source path or account cannot be read (missing, unreadable, unknown format)."""

    code = "source_error"


class NotFoundError(InputError):
    """An id does not exist for the requesting user (never reveals other users' ids)."""

    code = "not_found"


class ParseError(MailmindError):
    """One item could not be parsed. Ingestion quarantines it with this message as the reason."""

    code = "parse_error"


class StoreError(MailmindError):
    """The relational store failed."""

    code = "store_error"


class MigrationError(StoreError):
    """The database schema is newer than this code or a migration failed."""

    code = "migration_error"


class VectorIndexError(MailmindError):
    """The vector index failed."""

    code = "index_error"


class ModelError(MailmindError):
    """A model runtime failed."""

    code = "model_error"


class ModelNotFoundError(ModelError):
    """Model weights are not in the cache; the message says which command fetches them."""

    code = "model_not_found"


class SyncError(MailmindError):
    """A remote server failed during sync."""

    code = "sync_error"
