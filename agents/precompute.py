"""What a worker does with a ``message.stored`` event: index the message, then precompute its
smart-reply chips and its thread's summary, with the same functions the online routes call.

Every step is idempotent, so an event handled twice (at-least-once delivery) changes nothing:

* **index**: :func:`retrieval.index.indexer.index_messages` writes points whose ids are
  ``uuid5(user, message id, chunk)`` and skips a message whose text hash is unchanged;
* **chips**: :func:`agents.smart_reply.suggest`, stored under (message id, version);
* **summary**: :func:`agents.summarize.thread.summarize_thread`, stored under (thread id,
  version), the version naming the method and the thread's message ids (a new reply makes a new
  summary; the same thread again is skipped).

``POST /v1/summarize`` serves a kept summary (:func:`kept_summary`) when it was made the way the
route would make it (with the chat model, ``MAILMIND_EVENTS__SUMMARIES=model``) over the thread's
current messages; chips are always computed on request (they depend on the request's ``now``).

A message deleted since the event was published is nothing to do (outcome ``gone``). A
``message.removed`` event deletes the message's points unless it is back in the store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.ids import check_message_id
from retrieval.events.base import MESSAGE_REMOVED, MESSAGE_STORED, Event
from retrieval.store.base import check_user

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from retrieval.index.base import VectorIndex
    from retrieval.index.embeddings import Embedder
    from retrieval.index.indexer import IndexingConfig
    from retrieval.store.base import Store
    from retrieval.store.calendar import CalendarStore
    from retrieval.store.contacts import ContactStore
    from retrieval.store.precomputed import PrecomputedStore

CHIPS = "chips"
SUMMARY = "summary"
Outcome = Literal["done", "gone", "ignored", "removed"]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def chips_version(data_dir: Path | None) -> str:
    """What chips depend on besides the message: the response set and any trained model."""
    from agents.smart_reply.learned import model_path
    from agents.smart_reply.responses import load_responses

    parts = [load_responses().sha256]
    for kind in ("trigger", "priority"):
        path = model_path(data_dir, kind) if data_dir is not None else None
        if path is not None and path.exists():
            parts.append(f"{kind}:{path.stat().st_mtime_ns}")
    return _digest(*parts)


def summary_version(method: str, message_ids: list[str]) -> str:
    """A thread summary's version: the method and the thread's message ids."""
    return _digest(method, *sorted(message_ids))


def kept_summary(
    store: Store, precomputed: PrecomputedStore, user: str, thread_id: str, method: str
) -> dict[str, Any] | None:
    """The summary a worker kept for ``user``'s thread (or the thread of a message id) with
    ``method``, if the thread has not changed since; else ``None``."""
    if thread_id.startswith("m"):
        message = store.get_message(user, thread_id)
        thread_id = message.thread_id if message is not None and message.thread_id else thread_id
    found = store.get_thread(user, thread_id)
    if found is None:
        return None
    thread, messages = found
    version = summary_version(method, [m.id for m in messages])
    kept: dict[str, Any] | None = precomputed.get(user, SUMMARY, thread.id, version)
    return kept


@dataclass
class MessagePipeline:
    """The handler of ``message.stored`` events (see the module docstring)."""

    store: Store
    index: VectorIndex
    embedder: Embedder
    indexing: IndexingConfig
    precomputed: PrecomputedStore
    calendar: CalendarStore | None = None
    contacts: ContactStore | None = None
    data_dir: Path | None = None
    summaries: Literal["off", "extractive", "model"] = "extractive"
    chat_model: BaseChatModel | None = None

    def __call__(self, event: Event) -> Outcome:
        """Handle one event; raises :class:`~core.errors.InputError` for a malformed one."""
        if event.type not in (MESSAGE_STORED, MESSAGE_REMOVED):
            return "ignored"
        user, message_id = check_user(event.user), check_message_id(event.key)
        message = self.store.get_message(user, message_id)
        if event.type == MESSAGE_REMOVED:
            if message is not None:
                return "ignored"  # stored again since (moved to another folder): keep it
            self.index.delete_messages(user, [message_id])
            return "removed"
        if message is None:
            return "gone"
        self.index_message(user, message_id)
        self.chips(user, message_id)
        if self.summaries != "off" and message.thread_id:
            self.summary(user, message.thread_id)
        return "done"

    def index_message(self, user: str, message_id: str) -> dict[str, int]:
        """Embed and write the message's points (no-op when its text is already indexed)."""
        from retrieval.index.indexer import index_messages

        return index_messages(
            self.index, self.embedder, user, self.store.get_messages(user, [message_id]),
            config=self.indexing,
        )  # fmt: skip

    def chips(self, user: str, message_id: str) -> bool:
        """Compute and keep the message's chips; False when this version already exists."""
        from agents.smart_reply import suggest

        version = chips_version(self.data_dir)
        if self.precomputed.has(user, CHIPS, message_id, version):
            return False
        result = suggest(
            self.store, user, message_id, calendar=self.calendar, contacts=self.contacts,
            embedder=self.embedder, data_dir=self.data_dir,
        )  # fmt: skip
        return self.precomputed.put(
            user, CHIPS, message_id, version, result.model_dump(mode="json")
        )

    def summary(self, user: str, thread_id: str) -> bool:
        """Compute and keep the thread's summary; False when this version already exists."""
        from agents.summarize.thread import summarize_thread

        found = self.store.get_thread(user, thread_id)
        if found is None:
            return False
        _, messages = found
        version = summary_version(self.summaries, [m.id for m in messages])
        if self.precomputed.has(user, SUMMARY, thread_id, version):
            return False
        model = self.chat_model if self.summaries == "model" else None
        result = summarize_thread(self.store, user, thread_id, model=model, embedder=self.embedder)
        return self.precomputed.put(
            user, SUMMARY, thread_id, version, result.model_dump(mode="json")
        )
