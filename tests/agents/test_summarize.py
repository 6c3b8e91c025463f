"""Thread summaries: citations map to real messages, unsupported sentences are dropped,
the extractive fallback and map-reduce paths work, with a scripted model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from agents.llm.fake import FakeChatModel
from agents.summarize.faithfulness import FaithfulnessChecker, key_terms, split_sentences
from agents.summarize.thread import summarize_messages, summarize_thread
from api.services import Services
from core.errors import NotFoundError
from core.types import Message
from retrieval.index.embeddings import HashEmbedder


def _thread(services: Services, subject_word: str) -> str:
    row = services.store.conn.execute(  # type: ignore[attr-defined]
        "SELECT id FROM threads WHERE user_id='demo' AND subject LIKE ? "
        "ORDER BY message_count DESC LIMIT 1",
        (f"%{subject_word}%",),
    ).fetchone()
    return str(row[0])


def _draft(*sentences: tuple[str, list[int]]) -> str:
    return json.dumps(
        {"sentences": [{"text": t, "sources": s} for t, s in sentences], "action_items": []}
    )


def test_supported_sentences_kept_invented_ones_dropped(demo_services: Services) -> None:
    tid = _thread(demo_services, "housings")
    _, messages = demo_services.store.get_thread("demo", tid)  # type: ignore[misc]
    # Sentences copied from the messages themselves are supported; an invented one is not.
    first = split_sentences(messages[1].new_text)[0]
    second = split_sentences(messages[-1].new_text)[0]
    invented = "The unicorn budget is 999 dollars from Zorblax Inc."
    draft = _draft((first, [2]), (second, [len(messages)]), (invented, [1]), ("x", [99]))
    model = FakeChatModel(responses=[draft])
    out = summarize_thread(demo_services.store, "demo", tid, model=model, embedder=HashEmbedder())
    assert out.method == "abstractive"
    assert [s.text for s in out.sentences] == [first, second]
    assert out.sentences[0].citations == [messages[1].id]
    dropped = [s.text for s in out.dropped_sentences]
    assert "The unicorn budget is 999 dollars from Zorblax Inc." in dropped
    ids = {m.id for m in messages}
    assert all(c in ids for s in out.sentences for c in s.citations)


def test_unusable_model_output_falls_back_to_extractive(demo_services: Services) -> None:
    tid = _thread(demo_services, "launch")
    model = FakeChatModel(responses=["this is not json"])
    out = summarize_thread(demo_services.store, "demo", tid, model=model, embedder=HashEmbedder())
    assert out.method == "extractive"
    assert out.fallback_reason
    assert 2 <= len(out.sentences) <= 5
    _, messages = demo_services.store.get_thread("demo", tid)  # type: ignore[misc]
    texts = {m.id: m.new_text for m in messages}
    for s in out.sentences:
        assert len(s.citations) == 1 and s.text.split()[0] in texts[s.citations[0]]


def test_long_threads_are_summarised_map_reduce() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    messages = [
        Message(
            id=f"m{i:04d}", message_id=f"{i}@x", message_id_synthetic=False, subject="Budget",
            normalized_subject="budget", subject_is_reply=i > 0, sender=None, to=[], cc=[],
            bcc=[], reply_to=[], date=t0 + timedelta(hours=i), date_flag="ok",
            in_reply_to=None, references=[],
            body_text="", body_from_html=False,
            new_text=f"Line item {i} costs {100 + i} dollars for the Budget review. " * 20,
            attachments=[], headers={}, size=0, content_hash="", thread_id="t1",
        )
        for i in range(12)
    ]  # fmt: skip
    model = FakeChatModel(
        responses=[_draft((f"Line item {i} costs {100 + i} dollars for the Budget review.", [1]))
                   for i in range(0, 12, 2)],
        cycle=True,
    )  # fmt: skip
    out = summarize_messages("t1", "Budget", messages, model=model, embedder=HashEmbedder(),
                             max_chars=3000)  # fmt: skip
    assert out.map_reduce
    assert len(model.calls) > 1  # one call per slice
    assert out.method == "abstractive"
    assert all(c in {m.id for m in messages} for s in out.sentences for c in s.citations)


def test_other_users_threads_are_not_found(demo_services: Services) -> None:
    tid = _thread(demo_services, "housings")
    with pytest.raises(NotFoundError):
        summarize_thread(demo_services.store, "eve", tid, model=None, embedder=HashEmbedder())


def test_faithfulness_signals() -> None:
    checker = FaithfulnessChecker(HashEmbedder())
    src = ["The revised quote is USD 3.79 per unit for 8,000 units from Castellan."]
    assert checker.check("The revised quote is USD 3.79 per unit.", src).supported
    bad = checker.check("The revised quote is USD 7.50 per unit from Acme.", src)
    assert not bad.supported and bad.overlap < 1
    assert {"3.79", "8000", "castellan"} <= key_terms(src[0])
