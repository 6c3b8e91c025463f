"""Full draft replies with a scripted chat model."""

from __future__ import annotations

import pytest

from agents.llm.fake import FakeChatModel
from agents.smart_reply.draft import (
    build_messages,
    calendar_context_from,
    contact_context_from,
    draft_reply,
)
from agents.smart_reply.schemas import CalendarCheck, ProposedTime, SmartReplyResult
from core.errors import ModelError
from tests.agents.smart_reply.conftest import Demo


def test_draft_reply_returns_model_text(demo: Demo) -> None:
    model = FakeChatModel(responses=["Hi Tom,\n\nYes, go ahead and send v3.\n\nDana"])
    text = draft_reply(
        demo["tom_question"],
        chat_model=model,
        calendar_context="No meeting time was proposed.",
        contact_context="Name: Tom Becker",
        user_name="Dana Reyes",
    )
    assert text.startswith("Hi Tom")
    system, human = model.calls[0]
    assert system.type == "system" and human.type == "human"


def test_email_content_is_marked_as_data(demo: Demo) -> None:
    msgs = build_messages(
        demo["greg_injection"],
        calendar_context="busy",
        contact_context=contact_context_from(None),
        user_name="Dana Reyes",
    )
    (role_s, system), (role_h, human) = msgs
    assert (role_s, role_h) == ("system", "human")
    assert '"^ "' in system and "untrusted" in system
    # The injected instruction only appears data-marked, inside a delimited block.
    lines = [ln for ln in human.splitlines() if "ignore previous instructions" in ln]
    assert lines and all(ln.startswith("^ ") for ln in lines)
    assert "<<DATA " in human and "<<END " in human
    assert "attacker@evil.example" not in system


def test_empty_answer_is_an_error(demo: Demo) -> None:
    with pytest.raises(ModelError):
        draft_reply(
            demo["tom_question"],
            chat_model=FakeChatModel(responses=["   "]),
            calendar_context="",
            contact_context="",
        )


def test_calendar_context_from_result() -> None:
    from datetime import UTC, datetime

    start = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    result = SmartReplyResult(
        message_id="m1",
        triggered=True,
        reason="meeting_request",
        proposed_time=ProposedTime(start=start, end=start, text="Tue 1 Dec at 10am"),
        calendar_check=CalendarCheck(status="busy", alternative=start),
    )
    text = calendar_context_from(result)
    assert "busy" in text and "free slot" in text
    assert calendar_context_from(None) == "No meeting time was proposed."
