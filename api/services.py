"""The service object: one place that builds and owns the heavy collaborators.

The CLI, the REPL and the FastAPI app all hold one :class:`Services` and ask it for the store,
the ingestor and (as later issues land) the index, the model runtime and the graphs. Everything is
built lazily on first use, so constructing it is free and importing this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from langchain_core.language_models import BaseChatModel
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph.state import CompiledStateGraph

    from agents.assistant.router import IntentRouter
    from api.cli_sync import PimStores
    from core.settings import Settings
    from retrieval.embeddings import Embedder
    from retrieval.index import VectorIndex
    from retrieval.ingest import Ingestor, ProgressFn
    from retrieval.search import Searcher
    from retrieval.store.base import Store
    from retrieval.sync.mail_sink import MailSink
    from tools.context import AgentContext

#: Messages embedded or deleted in one ``index_user`` call that trigger ``optimize()``.
OPTIMIZE_AFTER = 500


class Services:
    """Lazily built collaborators shared by every front end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def store(self) -> Store:
        """The relational store, migrated to the current schema."""
        from retrieval.store import open_store

        return open_store(self.settings)

    @cached_property
    def pim(self) -> PimStores:
        """Calendar and contact stores plus sync state (one SQLite file beside the mail store)."""
        from api.cli_sync import open_pim

        return open_pim(self.settings)

    def ingestor(self, *, workers: int | None = None, pim_hooks: bool = True) -> Ingestor:
        """An ingestor writing into :attr:`store`; by default it also feeds contacts (people
        seen in mail) and the calendar (invitations attached to mail)."""
        from retrieval.ingest import Ingestor
        from retrieval.mail_hooks import PimMailHook

        s = self.settings
        hooks = [PimMailHook(self.pim.calendars, self.pim.contacts)] if pim_hooks else []
        return Ingestor(
            self.store,
            quarantine_dir=s.quarantine_dir,
            batch_size=s.store.batch_size,
            max_bytes=s.ingest.max_message_bytes,
            body_chars=s.ingest.body_chars,
            workers=workers,
            hooks=hooks,
        )

    def ingest_path(
        self,
        user: str,
        path: Path,
        *,
        workers: int | None = None,
        progress: ProgressFn | None = None,
        index: bool = True,
    ) -> dict[str, Any]:
        """Ingest whatever ``path`` holds: mail, ``.ics`` calendars, ``.vcf`` contacts, or a
        folder mixing them (calendar and contact files inside a mail tree are ingested too).

        New mail is embedded into the vector index unless ``index`` is false."""
        from retrieval.calendar.ingest import IngestReport as PimReport
        from retrieval.calendar.ingest import ingest_ics_path
        from retrieval.contacts.ingest import ingest_vcf_path
        from retrieval.mail.sources import open_source
        from retrieval.store.base import check_user

        check_user(user)
        source = open_source(path)
        if source.format == "ics":
            report = ingest_ics_path(self.pim.calendars, user, source.path)
            return {"user": user, "path": str(source.path), "format": "ics", **report.as_dict()}
        if source.format == "vcf":
            report = ingest_vcf_path(self.pim.contacts, user, source.path)
            return {"user": user, "path": str(source.path), "format": "vcf", **report.as_dict()}
        pim_files = set(source.calendar_files) | set(source.contact_files)
        if source.format == "tree" and pim_files and pim_files == set(source.files):
            # A folder of calendars/contacts only: no mail source to record.
            result: dict[str, Any] = {"user": user, "path": str(source.path), "format": "pim"}
        else:
            mail = self.ingestor(workers=workers).ingest_source(user, source, progress=progress)
            result = mail.to_dict()
            if index:
                result["index"] = self.index_user(user)
        for key, files, fn in (
            ("calendar", source.calendar_files, ingest_ics_path),
            ("contacts", source.contact_files, ingest_vcf_path),
        ):
            if not files:
                continue
            total = PimReport()
            target = self.pim.calendars if key == "calendar" else self.pim.contacts
            for f in files:
                part = fn(target, user, f)  # type: ignore[arg-type]
                total.files += part.files
                total.counts.update(part.counts)
                total.failures.extend(part.failures)
            result[key] = total.as_dict()
        return result

    def mail_sink(self) -> MailSink:
        """Callbacks through which IMAP sync stores mail (call ``finish()`` after the sync)."""
        from retrieval.sync.mail_sink import MailSink

        return MailSink(self.ingestor(workers=0))

    # -- retrieval ---------------------------------------------------------------------------

    @cached_property
    def embedder(self) -> Embedder:
        """The sentence encoder (MiniLM from its PyPI package, offline)."""
        from retrieval.embeddings import load_embedder

        return load_embedder(self.settings.embeddings)

    @cached_property
    def index(self) -> VectorIndex:
        """The vector index (Qdrant Edge shard by default, Qdrant server at scale)."""
        from retrieval.index import open_index

        return open_index(self.settings)

    @cached_property
    def searcher(self) -> Searcher:
        """Hybrid search over :attr:`index` with :attr:`embedder`."""
        from retrieval.index import IndexingConfig
        from retrieval.search import FusionConfig, Searcher

        return Searcher(
            self.index,
            self.embedder,
            indexing=IndexingConfig.from_settings(self.settings.index),
            fusion=FusionConfig.from_settings(self.settings.index),
        )

    def index_user(
        self, user: str, *, rebuild: bool = False, progress: Callable[[int], None] | None = None
    ) -> dict[str, int]:
        """Bring ``user``'s vectors up to date with the store: embed new or changed messages,
        delete the vectors of messages that are gone. ``rebuild`` re-embeds everything."""
        from retrieval.index import IndexingConfig, index_messages, prune
        from retrieval.store.base import check_user

        check_user(user)
        counts = index_messages(
            self.index, self.embedder, user, self.store.iter_messages(user),
            config=IndexingConfig.from_settings(self.settings.index), progress=progress,
            force=rebuild,
        )  # fmt: skip
        counts["deleted"] = prune(self.index, user, self.store.message_ids(user))
        if counts["embedded"] + counts["deleted"] >= OPTIMIZE_AFTER:
            # Edge has no background optimiser: after a bulk change, merge segments and build
            # HNSW now, or searches would scan many small unindexed segments.
            self.index.optimize()
        return counts

    # -- agents ------------------------------------------------------------------------------

    @cached_property
    def chat_model(self) -> BaseChatModel:
        """The chat model over the configured runtime (loaded once, shared, queued)."""
        from agents.llm import get_chat_model

        return get_chat_model(
            self.settings, max_tokens=self.settings.agent.answer_tokens, temperature=0.0
        )

    @cached_property
    def router(self) -> IntentRouter:
        """The embedding intent router of the assistant."""
        from agents.assistant.router import IntentRouter

        return IntentRouter(self.embedder)

    @cached_property
    def checkpointer(self) -> BaseCheckpointSaver[Any]:
        """Conversation memory: LangGraph's SQLite checkpointer under the data dir."""
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.settings.data_dir / "checkpoints.sqlite3", check_same_thread=False
        )
        return SqliteSaver(conn)

    @cached_property
    def assistant(self) -> CompiledStateGraph[Any, Any, Any, Any]:
        """The compiled assistant graph with conversation memory."""
        from agents.assistant.graph import build_graph

        agent = self.settings.agent
        return build_graph(
            self.chat_model,
            self.router if agent.routing == "router" else None,
            checkpointer=self.checkpointer,
            max_steps=agent.max_steps,
            routing=agent.routing,
        )

    def agent_context(
        self, user: str, *, now: datetime | None = None, timezone: str | None = None
    ) -> AgentContext:
        """Runtime context for one request: the user is fixed here, never by the model."""
        from tools.context import AgentContext, Backends

        backends = Backends(
            store=self.store,
            calendars=self.pim.calendars,
            contacts=self.pim.contacts,
            search=self.searcher,
        )
        kwargs: dict[str, Any] = {"timezone": timezone or self.settings.agent.timezone}
        if now is not None:
            kwargs["now"] = now
        return AgentContext(user=user, backends=backends, **kwargs)

    def close(self) -> None:
        """Release connections."""
        if "store" in self.__dict__:
            self.store.close()
        if "pim" in self.__dict__:
            self.pim.close()
        if "checkpointer" in self.__dict__:
            self.checkpointer.conn.close()  # type: ignore[attr-defined]
        if "index" in self.__dict__:
            close = getattr(self.index, "close", None)
            if callable(close):
                close()
