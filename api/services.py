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

    from agents.actions.service import ActionService
    from agents.assistant.router import IntentRouter
    from agents.precompute import MessagePipeline
    from core.settings import Settings
    from retrieval.events import EventBus
    from retrieval.events.worker import EventWorker, Observer
    from retrieval.index import VectorIndex
    from retrieval.index.embeddings import Embedder
    from retrieval.index.search import Searcher
    from retrieval.ingest.mail import Ingestor, ProgressFn
    from retrieval.sources.sync.mail_sink import MailSink
    from retrieval.store.actions import StoredAction
    from retrieval.store.base import Store
    from retrieval.store.feedback import FeedbackStore
    from retrieval.store.keys import KeyStore
    from retrieval.store.pim import PimStores
    from retrieval.store.precomputed import PrecomputedStore
    from tools.context import AgentContext


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
        """Calendar and contact stores plus sync state (beside the mail tables: the SQLite file
        or the Postgres database)."""
        from retrieval.store.pim import open_pim

        return open_pim(self.settings)

    def ingestor(self, *, workers: int | None = None, pim_hooks: bool = True) -> Ingestor:
        """An ingestor writing into :attr:`store`; by default it also feeds contacts (people
        seen in mail) and the calendar (invitations attached to mail)."""
        from retrieval.ingest.hooks import PimMailHook
        from retrieval.ingest.mail import Ingestor

        s = self.settings
        hooks = [PimMailHook(self.pim.calendars, self.pim.contacts)] if pim_hooks else []
        return Ingestor(
            self.store,
            quarantine_dir=s.quarantine_dir,
            quarantine_max_item_bytes=s.ingest.quarantine_max_item_bytes,
            quarantine_max_total_bytes=s.ingest.quarantine_max_total_bytes,
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
        publish: str | None = None,
    ) -> dict[str, Any]:
        """Ingest mail, ``.ics`` or ``.vcf`` at ``path`` for ``user`` (see
        :func:`retrieval.ingest.dispatch.ingest_path`); new mail is indexed unless ``index`` is
        false. With ``publish`` (an origin, e.g. ``"api"``) each added message is announced
        with a ``message.stored`` event too; their count is reported under ``"events"``."""
        from retrieval.ingest.dispatch import ingest_path

        published: list[int] = []

        def on_stored(ids: list[str]) -> None:
            published.append(self.publish_stored(user, ids, origin=publish or ""))

        result = ingest_path(
            user,
            path,
            pim=self.pim,
            ingestor=lambda: self.ingestor(workers=workers),
            progress=progress,
            index=self.index_user if index else None,
            on_stored=on_stored if publish else None,
        )
        if publish:
            result["events"] = sum(published)
        return result

    def mail_sink(self, *, announce: bool = False) -> MailSink:
        """Callbacks through which IMAP sync stores mail (call ``finish()`` after the sync);
        with ``announce`` the sync's new and expunged messages are published as events."""
        from retrieval.sources.sync.mail_sink import MailSink

        def publish(user: str, added: list[str], removed: list[str]) -> None:
            from retrieval.events import MESSAGE_REMOVED

            self.publish_stored(user, added, origin="sync")
            self.publish_stored(user, removed, origin="sync", kind=MESSAGE_REMOVED)

        return MailSink(self.ingestor(workers=0), announce=publish if announce else None)

    def ingest_raw(self, user: str, raw: bytes, *, folder: str = "INBOX") -> dict[str, Any]:
        """Store one RFC 822 message delivered over the API and publish ``message.stored``.

        Idempotent: the locator is the sha256 of the bytes, so posting the same bytes again is a
        duplicate (and the store dedupes by Message-ID as well). Returns the message id, whether
        it was added, and the quarantine reason of an unparsable message."""
        import hashlib
        import unicodedata

        from core.errors import InputError, ParseError
        from retrieval.sources.mail.parse import parse_message
        from retrieval.sources.mail.sources import RawItem
        from retrieval.store.base import check_user

        check_user(user)
        if not 0 < len(folder) <= 200 or any(unicodedata.category(c)[0] == "C" for c in folder):
            raise InputError(f"invalid folder {folder[:60]!r}: 1-200 characters, no controls")
        digest = hashlib.sha256(raw).hexdigest()
        ing = self.settings.ingest
        try:
            message_id: str | None = parse_message(
                raw, folder=folder, max_bytes=ing.max_message_bytes, body_chars=ing.body_chars
            ).id
        except ParseError:
            message_id = None  # the ingestor below quarantines it with the reason
        report = self.ingestor(workers=0).ingest_items(
            user, "api://ingest", "api", [RawItem(digest, folder, raw, len(raw))]
        )
        events = self.publish_stored(user, report.added_ids, origin="api")
        return {
            "message_id": message_id,
            "added": report.added == 1,
            "duplicate": report.duplicates == 1,
            "quarantine_reason": next(iter(report.quarantine_reasons), None),
            "events": events,
        }

    # -- retrieval ---------------------------------------------------------------------------

    @cached_property
    def embedder(self) -> Embedder:
        """The sentence encoder (MiniLM from its PyPI package, offline)."""
        from retrieval.index.embeddings import load_embedder

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
        from retrieval.index.search import FusionConfig, Searcher

        return Searcher(
            self.index,
            self.embedder,
            indexing=IndexingConfig.from_settings(self.settings.index),
            fusion=FusionConfig.from_settings(self.settings.index),
        )

    def index_user(
        self, user: str, *, rebuild: bool = False, progress: Callable[[int], None] | None = None
    ) -> dict[str, int]:
        """Bring ``user``'s vectors up to date with the store (see
        :func:`retrieval.index.indexer.update_user`).

        While ``mailmind serve`` runs over the same data dir, the service indexes instead (it
        reads the mail this process stored from the store): see :mod:`retrieval.index.handoff`.
        Otherwise processes take turns on the user's shard (:mod:`retrieval.index.lock`)."""
        from retrieval.index import IndexingConfig
        from retrieval.index.indexer import update_user
        from retrieval.store.base import check_user

        check_user(user)
        if self.settings.index.backend == "edge":
            from retrieval.index.handoff import index_via_service

            counts = index_via_service(self.settings.data_dir, user, rebuild=rebuild)
            if counts is not None:
                if progress is not None:
                    progress(counts.get("messages", 0))
                return counts
        return update_user(
            self.index, self.embedder, user, self.store.iter_messages(user),
            lambda: self.store.message_ids(user),
            config=IndexingConfig.from_settings(self.settings.index), rebuild=rebuild,
            progress=progress,
        )  # fmt: skip

    # -- events ------------------------------------------------------------------------------

    @cached_property
    def event_bus(self) -> EventBus:
        """The new-mail event bus (in-process by default, Redis Streams at scale)."""
        from retrieval.events import open_bus

        return open_bus(self.settings.events)

    @cached_property
    def precomputed(self) -> PrecomputedStore:
        """Chips and summaries computed ahead by the event workers (main SQLite file)."""
        from retrieval.store.precomputed import open_precomputed_store

        return open_precomputed_store(self.settings)

    def publish_stored(
        self, user: str, message_ids: list[str], *, origin: str, kind: str | None = None
    ) -> int:
        """Publish one event (``message.stored`` unless ``kind``) per id; returns how many."""
        from retrieval.events import MESSAGE_STORED, stored_events

        if not message_ids:
            return 0
        events = stored_events(user, message_ids, origin=origin, kind=kind or MESSAGE_STORED)
        return len(self.event_bus.publish(events))

    @cached_property
    def pipeline(self) -> MessagePipeline:
        """The handler workers run per event (``agents.precompute.MessagePipeline``): the same
        index, chip and summary functions as the online routes."""
        from agents.precompute import MessagePipeline
        from retrieval.index import IndexingConfig

        events = self.settings.events
        return MessagePipeline(
            store=self.store, index=self.index, embedder=self.embedder,
            indexing=IndexingConfig.from_settings(self.settings.index),
            precomputed=self.precomputed, calendar=self.pim.calendars,
            contacts=self.pim.contacts, data_dir=self.settings.data_dir,
            summaries=events.summaries,
            chat_model=self.chat_model if events.summaries == "model" else None,
        )  # fmt: skip

    def event_handler(self) -> Callable[[Any], object]:
        """:attr:`pipeline` as a handler that builds it (and loads what it needs) on the first
        event, so a consumer started with the service costs nothing until mail arrives."""

        def handle(event: Any) -> object:
            return self.pipeline(event)  # the property is read here, at the first event

        return handle

    def event_worker(self, consumer: str, *, observe: Observer | None = None) -> EventWorker:
        """A consumer of :attr:`event_bus` running :meth:`event_handler`, with the retry,
        dead-letter and reclaim policy from settings."""
        from retrieval.events.worker import EventWorker, RetryPolicy

        ev = self.settings.events
        return EventWorker(
            self.event_bus, self.event_handler(), consumer=consumer,
            policy=RetryPolicy(ev.max_attempts, ev.backoff_s, ev.backoff_max_s),
            batch_size=ev.batch_size, claim_idle_s=ev.claim_idle_s, observe=observe,
        )  # fmt: skip

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
        """Conversation memory: LangGraph's SQLite checkpointer under the data dir, or its
        Postgres checkpointer in the store's database on the Postgres backend."""
        if self.settings.store.backend == "postgres":
            from retrieval.store.postgres import open_postgres_checkpointer

            return open_postgres_checkpointer(self.settings)
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
            context_length=self.settings.llm.context_length,
            max_question_chars=agent.max_question_chars,
            compose_answers=agent.compose_answers,
            model_args=agent.model_args,
            actions=self.actions,
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

    @cached_property
    def keys(self) -> KeyStore:
        """API keys (hashed) and users, in the main store."""
        from retrieval.store.keys import open_key_store

        return open_key_store(self.settings)

    @cached_property
    def actions(self) -> ActionService:
        """Proposed side-effecting actions and their approval (``agents.actions``)."""
        from agents.actions.executor import ActionEnv
        from agents.actions.service import ActionService
        from retrieval.store.actions import open_action_store

        env = ActionEnv(
            settings=self.settings, actions=open_action_store(self.settings), store=self.store,
            calendars=self.pim.calendars, dav_state=self.pim.dav_state,
        )  # fmt: skip
        return ActionService(env, ttl_s=self.settings.actions.approval_ttl_s)

    def decide_action(self, user: str, action_id: str, decision: str) -> StoredAction:
        """Approve or reject ``user``'s action (the approve/reject routes and CLI only): a
        conversation of this process waiting on it is resumed, else the action runs here."""
        if decision not in ("approve", "reject"):
            from core.errors import InputError

            raise InputError(f"decision must be approve or reject: {decision!r}")
        return self.actions.decide(
            user, action_id, "approve" if decision == "approve" else "reject",
            resume=self._resume_action,
        )  # fmt: skip

    def _resume_action(self, action: StoredAction) -> bool:
        """Resume the conversation waiting on ``action`` when its graph is loaded here."""
        if "assistant" not in self.__dict__ or not action.conversation:
            return False
        from langgraph.types import Command

        config: Any = {"configurable": {"thread_id": f"{action.user}/{action.conversation}"}}
        graph = self.assistant
        waiting = any(
            isinstance(i.value, dict) and (i.value.get("action") or {}).get("id") == action.id
            for i in graph.get_state(config).interrupts
        )
        if not waiting:
            return False
        from tools.context import AgentContext, Backends

        # The approval step searches nothing: no need to open the vector index for it.
        backends = Backends(
            store=self.store, calendars=self.pim.calendars, contacts=self.pim.contacts
        )
        ctx = AgentContext(user=action.user, backends=backends)
        graph.invoke(Command(resume={"action_id": action.id}), config=config, context=ctx)
        return True

    @cached_property
    def feedback(self) -> FeedbackStore:
        """Per-user feedback (chip choices, ratings, edits), in the main store."""
        from retrieval.store.feedback import open_feedback_store

        return open_feedback_store(self.settings)

    def delete_user(self, user: str) -> dict[str, int]:
        """Remove everything of ``user``: mail rows, calendar/contacts, the sync state of their
        accounts, API keys, feedback, conversation checkpoints, index shard and quarantine
        copies. Returns what was removed per part (``"<part>.<table>"`` for row counts).

        Idempotent: deleting an unknown or already deleted user removes nothing, and a run
        interrupted half-way is completed by running it again (the index goes last).
        """
        from retrieval.store.base import check_user
        from retrieval.store.users import (
            CHECKPOINTS_FILE,
            delete_checkpoint_file_rows,
            delete_checkpoints,
            delete_feedback,
            delete_pg_checkpoints,
            delete_quarantine,
        )

        check_user(user)
        s = self.settings
        counts: dict[str, int] = {}

        def add(part: str, rows: dict[str, int]) -> None:
            counts.update({f"{part}.{table}": n for table, n in rows.items()})

        # The user's quarantine folder first; the mail store then removes only copies left in
        # the shared pre-per-user folder (counted as ``mail.quarantine_files``).
        counts["quarantine.files"] = delete_quarantine(s.quarantine_dir, user)
        add("mail", self.store.delete_user(user))
        add(
            "pim",
            self.pim.delete_user(
                user,
                imap_accounts=[a.name for a in s.sync.imap if a.user == user],
                dav_accounts=[a.name for a in s.sync.dav if a.user == user],
            ),
        )
        counts["keys.api_keys"] = self.keys.delete_user(user)
        add("feedback", delete_feedback(self.keys.conn, user))
        add("actions", self.actions.store.delete_user(user))
        add("precomputed", self.precomputed.delete_user(user))
        if "checkpointer" in self.__dict__:
            saver: Any = self.checkpointer
            with saver.lock:
                add("checkpoints", delete_checkpoints(saver.conn, user))
        elif s.store.backend == "postgres":
            from retrieval.store.postgres import checkpoint_pool

            with checkpoint_pool(s) as pool:
                add("checkpoints", delete_pg_checkpoints(pool, user))
        else:
            add("checkpoints", delete_checkpoint_file_rows(s.data_dir / CHECKPOINTS_FILE, user))
        counts["index.points"] = self.index.count(user)
        self.index.delete_user(user)
        return counts

    def warm(self) -> None:
        """Build everything a request may need now (the HTTP lifespan calls this once), so no
        request pays for loading weights or opening shards."""
        _ = self.store, self.pim, self.keys, self.embedder, self.index, self.searcher
        _ = self.feedback
        _ = self.chat_model, self.assistant
        if self.settings.agent.routing == "router":
            _ = self.router

    def readiness(self) -> dict[str, bool]:
        """Whether each component answers (``GET /readyz``); never raises."""
        checks: dict[str, bool] = {}
        for name, probe in (
            ("store", self.store.users),
            # Edge: opening the index checks its metadata; a count would open (and wait for
            # other processes' turns on) every user's shard. Server: one round trip.
            (
                "index",
                lambda: self.index if self.settings.index.backend == "edge" else self.index.count(),
            ),
            ("embedder", lambda: self.embedder),
            ("model", lambda: self.chat_model),
        ):
            try:
                probe()
                checks[name] = True
            except Exception:  # noqa: BLE001 - readiness reports, never raises
                checks[name] = False
        return checks

    def close(self) -> None:
        """Release connections."""
        if "store" in self.__dict__:
            self.store.close()
        if "pim" in self.__dict__:
            self.pim.close()
        if "keys" in self.__dict__:
            self.keys.close()
        if "feedback" in self.__dict__:
            self.feedback.close()
        if "actions" in self.__dict__:
            self.actions.store.close()
        if "precomputed" in self.__dict__:
            self.precomputed.close()
        if "event_bus" in self.__dict__:
            self.event_bus.close()
        if "checkpointer" in self.__dict__:
            self.checkpointer.conn.close()  # type: ignore[attr-defined]
        if "index" in self.__dict__:
            close = getattr(self.index, "close", None)
            if callable(close):
                close()
