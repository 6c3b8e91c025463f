"""The service object: one place that builds and owns the heavy collaborators.

The CLI, the REPL and the FastAPI app all hold one :class:`Services` and ask it for the store,
the ingestor and (as later issues land) the index, the model runtime and the graphs. Everything is
built lazily on first use, so constructing it is free and importing this module does no I/O.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings
    from retrieval.ingest import Ingestor
    from retrieval.store.base import Store


class Services:
    """Lazily built collaborators shared by every front end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def store(self) -> Store:
        """The relational store, migrated to the current schema."""
        from retrieval.store import open_store

        return open_store(self.settings)

    def ingestor(self, *, workers: int | None = None) -> Ingestor:
        """An ingestor writing into :attr:`store`."""
        from retrieval.ingest import Ingestor

        s = self.settings
        return Ingestor(
            self.store,
            quarantine_dir=s.quarantine_dir,
            batch_size=s.store.batch_size,
            max_bytes=s.ingest.max_message_bytes,
            body_chars=s.ingest.body_chars,
            workers=workers,
        )

    def close(self) -> None:
        """Release connections."""
        if "store" in self.__dict__:
            self.store.close()
