"""Instructions found in mail never read as the assistant's advice: summaries attribute them to
the sender and keep text aimed at an AI out of the action items; a likely phish gets no chips."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from agents.llm.fake import FakeChatModel
from agents.smart_reply.service import SmartReplier
from agents.summarize.attribution import attribute, is_injection, is_instruction
from agents.summarize.thread import summarize_messages
from api.services import Services
from retrieval.index.embeddings import HashEmbedder
from tests.agents.safety.conftest import CASES, DEMO_DOMAINS, Case

_ATTRIBUTED = re.compile(r"^(?:The email from .+ says: \"|.+ (?:asks you (?:not )?to|says you) )")


def _own_advice(text: str) -> bool:
    """A sentence that instructs the reader without saying who asks."""
    return is_instruction(text) and not _ATTRIBUTED.match(text)


@pytest.fixture(scope="module")
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_extractive_summary_attributes_instructions(case: Case, embedder: HashEmbedder) -> None:
    m = case.message
    out = summarize_messages(
        m.id, m.subject, [m], model=None, embedder=embedder, known_domains=DEMO_DOMAINS
    )
    assert out.method == "extractive"
    assert out.sentences
    for text, citations in [(s.text, s.citations) for s in out.sentences] + [
        (a.text, a.citations) for a in out.action_items
    ]:
        assert not _own_advice(text), text
        assert citations == [m.id]
    # Text aimed at an AI assistant (a fake SYSTEM line, "ignore previous ...") is never a task.
    assert not any(is_injection(a.text) for a in out.action_items)
    assert [w.message_id for w in out.warnings] == [m.id]
    assert out.warnings[0].reasons


def test_fake_system_text_is_quoted_not_an_action(embedder: HashEmbedder) -> None:
    m = next(c.message for c in CASES if c.name == "01_fake_system_prompt")
    out = summarize_messages(m.id, m.subject, [m], model=None, embedder=embedder)
    assert not any("maintenance mode" in a.text for a in out.action_items)
    quoted = [s.text for s in out.sentences if "maintenance mode" in s.text]
    assert all(s.startswith("The email from IT Helpdesk says:") for s in quoted)


def test_model_sentences_copying_an_instruction_are_attributed(embedder: HashEmbedder) -> None:
    m = next(c.message for c in CASES if c.name == "09_ceo_wire_fraud")
    copied = "I need you to process an urgent wire transfer of $48,500 to a new supplier today."
    draft = {
        "sentences": [
            {"text": copied, "sources": [1]},
            {"text": "Keep this confidential, I'm in a meeting and can't talk right now.",
             "sources": [1]},
        ],
        "action_items": [{"text": "Process an urgent wire transfer of $48,500 to a new supplier "
                          "today.", "sources": [1]}],
    }  # fmt: skip
    model = FakeChatModel(responses=[json.dumps(draft)])
    out = summarize_messages(m.id, m.subject, [m], model=model, embedder=embedder)
    assert out.method == "abstractive" or out.fallback_reason
    texts = [s.text for s in out.sentences] + [a.text for a in out.action_items]
    assert texts and not any(_own_advice(t) for t in texts)
    assert any(t.startswith("Dana Reyes (CEO) asks you to process") for t in texts)


def test_ordinary_sentences_keep_their_words() -> None:
    assert attribute("The meeting moved to Tuesday.", "Sam") == "The meeting moved to Tuesday."
    assert attribute("Please find the agenda attached.", "Sam").startswith("Please find")
    assert (
        attribute("Send the draft by Friday.", "Sam") == "Sam asks you to send the draft by Friday."
    )


def test_demo_summaries_without_attacks_have_no_warnings(
    demo_services: Services, embedder: HashEmbedder
) -> None:
    rows = demo_services.store.conn.execute(  # type: ignore[attr-defined]
        "SELECT id FROM threads WHERE user_id='demo' ORDER BY id"
    ).fetchall()
    warned = []
    for (tid,) in rows:
        _, messages = demo_services.store.get_thread("demo", tid)  # type: ignore[misc]
        out = summarize_messages(tid, "", messages, model=None, embedder=embedder)
        warned += [w.message_id for w in out.warnings]
    planted = demo_services.store.list_messages("demo", sender="greg.tanner", limit=5)
    assert warned == [m.id for m in planted]


def _replier(embedder: HashEmbedder) -> SmartReplier:
    return SmartReplier(embedder=embedder)


def test_ceo_wire_request_gets_no_agreeing_chip_and_a_warning(embedder: HashEmbedder) -> None:
    m = next(c.message for c in CASES if c.name == "09_ceo_wire_fraud")
    result = _replier(embedder).suggest(m, "demo", m.id, user_emails=["dana@northwind.example"])
    assert not result.triggered and result.chips == []
    assert result.reason == "likely_phish"
    assert result.phishing is not None and result.phishing.likely_phish
    assert result.phishing.reasons and "wire" in result.detail


def test_honest_question_still_gets_chips(embedder: HashEmbedder) -> None:
    m = next(c.message for c in CASES if c.name == "09_ceo_wire_fraud")
    text = "What do you think of the new logo?"
    honest = replace(m, body_text=text, new_text=text, reply_to=[], headers={}, subject="Logo")
    result = _replier(embedder).suggest(honest, "demo", m.id, user_emails=[])
    assert result.triggered and result.reason == "question"
    assert result.chips and result.phishing is None


def test_demo_injection_mail_gets_no_chips(demo_services: Services, embedder: HashEmbedder) -> None:
    (m,) = demo_services.store.list_messages("demo", sender="greg.tanner", limit=5)
    result = _replier(embedder).suggest(demo_services.store, "demo", m.id)
    assert result.reason == "likely_phish" and result.chips == []
