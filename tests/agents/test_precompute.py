"""The ``message.stored`` handler (``agents.precompute``): indexes the message and keeps its
chips and thread summary, with the online path's functions, and is idempotent."""

from __future__ import annotations

import pytest

from agents.precompute import CHIPS, SUMMARY
from api.services import Services
from core.errors import InputError
from core.settings import REPO_ROOT
from retrieval.events import MESSAGE_REMOVED, MESSAGE_STORED
from retrieval.events.base import Event
from retrieval.index.chunking import chunk_message

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # real MiniLM and a Qdrant Edge shard


def _state(services: Services, user: str) -> tuple[int, set[str], list[tuple[str, str]], list]:
    return (
        services.index.count(user),
        set(services.index.message_hashes(user)),
        services.precomputed.keys(user, CHIPS),
        services.precomputed.keys(user, SUMMARY),
    )


def test_events_index_and_precompute_once(services: Services) -> None:
    services.ingest_path("alice", REPO_ROOT / "demo" / "mail", index=False)
    messages = sorted(services.store.iter_messages("alice"), key=lambda m: m.id)[:6]
    ids = [m.id for m in messages]
    handle = services.event_handler()
    assert services.index.count("alice") == 0

    assert [handle(Event(MESSAGE_STORED, "alice", mid)) for mid in ids] == ["done"] * 6
    count, indexed, chips, summaries = _state(services, "alice")
    cfg = services.settings.index
    assert count == sum(len(chunk_message(m, cfg.chunk_words, cfg.chunk_overlap)) for m in messages)
    assert indexed == set(ids)
    assert sorted(k for k, _ in chips) == sorted(ids)
    assert len({v for _, v in chips}) == 1
    assert {k for k, _ in summaries} == {m.thread_id for m in messages}
    first = services.precomputed.get("alice", CHIPS, ids[0])
    assert first["message_id"] == ids[0] and "chips" in first and "reason" in first

    # At-least-once: the same events again change nothing.
    assert [handle(Event(MESSAGE_STORED, "alice", mid)) for mid in ids] == ["done"] * 6
    assert _state(services, "alice") == (count, indexed, chips, summaries)
    # Nobody else sees any of it.
    assert services.precomputed.keys("bob", CHIPS) == []
    assert services.index.count("bob") == 0


def test_gone_removed_and_malformed_events(services: Services) -> None:
    services.ingest_path("alice", REPO_ROOT / "demo" / "mail", index=False)
    mid = sorted(services.store.message_ids("alice"))[0]
    handle = services.event_handler()
    assert handle(Event(MESSAGE_STORED, "alice", "m" + "0" * 20)) == "gone"
    assert handle(Event(MESSAGE_STORED, "alice", mid)) == "done"
    assert mid in services.index.message_hashes("alice")
    # Still in the store: a removal event (the message moved folders) keeps its points.
    assert handle(Event(MESSAGE_REMOVED, "alice", mid)) == "ignored"
    assert mid in services.index.message_hashes("alice")
    services.store.delete_messages("alice", [mid])
    assert handle(Event(MESSAGE_REMOVED, "alice", mid)) == "removed"
    assert services.index.count("alice") == 0
    assert handle(Event("calendar.changed", "alice", mid)) == "ignored"
    with pytest.raises(InputError):
        handle(Event(MESSAGE_STORED, "Alice Smith", mid))
    with pytest.raises(InputError):
        handle(Event(MESSAGE_STORED, "alice", "../../etc/passwd"))


def test_a_model_summary_is_kept_for_the_route_until_the_thread_changes(
    services: Services,
) -> None:
    from agents.llm.fake import FakeChatModel
    from agents.precompute import kept_summary

    services.ingest_path("alice", REPO_ROOT / "demo" / "mail", index=False)
    threads: dict[str, list[str]] = {}
    for m in services.store.iter_messages("alice"):
        threads.setdefault(m.thread_id or "", []).append(m.id)
    thread_id, ids = next((t, sorted(i)) for t, i in sorted(threads.items()) if len(i) >= 2)
    draft = '{"sentences": [{"text": "Placeholder.", "sources": [1]}], "action_items": []}'
    services.settings.events.summaries = "model"
    services.__dict__["chat_model"] = FakeChatModel(responses=[draft], cycle=True)
    assert services.pipeline(Event(MESSAGE_STORED, "alice", ids[0])) == "done"

    kept = kept_summary(services.store, services.precomputed, "alice", thread_id, "model")
    assert kept is not None and kept["thread_id"] == thread_id
    assert kept["message_count"] == len(ids)
    # Found by a message id of the thread too; not under another method, nor for another user.
    assert kept_summary(services.store, services.precomputed, "alice", ids[-1], "model") == kept
    assert (
        kept_summary(services.store, services.precomputed, "alice", thread_id, "extractive") is None
    )
    assert kept_summary(services.store, services.precomputed, "bob", thread_id, "model") is None
    # A thread that changed since (a message left it) is summarised afresh.
    services.store.delete_messages("alice", [ids[-1]])
    assert kept_summary(services.store, services.precomputed, "alice", thread_id, "model") is None
