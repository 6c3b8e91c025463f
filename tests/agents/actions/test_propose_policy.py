"""Proposals read off the request by code, the policy, and provenance flags (no model)."""

from __future__ import annotations

from datetime import datetime

import pytest

from agents.actions.intent import detect_action
from agents.actions.policy import ActionRefusedError, check, enforce
from agents.actions.propose import ActionUnclearError, propose
from agents.actions.provenance import Provenance, tagged
from agents.actions.schemas import ProposedAction
from agents.llm.fake import FakeChatModel
from tools.context import AgentContext

KENJI = "kenji.watanabe@aquatest-labs.example"


@pytest.mark.parametrize(
    ("request_text", "tool"),
    [
        ("draft a reply to Kenji saying I'll be there", "save_draft"),
        ("send an email to alice@example.com about the budget", "send_email"),
        ("accept the invitation to the board meeting", "reply_to_invitation"),
        ("create an event tomorrow at 3pm called Dentist", "create_event"),
        ("please move the test plan review to friday at 4pm", "update_event"),
        ("did Kenji send the test plan?", None),
        ("what did Marcus say about the budget", None),
        ("tell me about the launch", None),
        ("show me mail from my manager about the budget", None),
        ("find a 30 minute slot next week", None),
    ],
)
def test_action_requests_are_told_from_questions(request_text: str, tool: str | None) -> None:
    assert detect_action(request_text) == tool


def test_draft_reply_reads_recipient_thread_and_words_by_code(wctx: AgentContext) -> None:
    action = propose("save_draft", "draft a reply to Kenji saying I'll be there", wctx)
    args = action.plain_args()
    assert args["to"] == [KENJI]
    assert args["body"] == "I'll be there."
    replied = wctx.backends.store.get_message("demo", args["in_reply_to"])
    assert replied is not None and replied.sender is not None
    assert replied.sender.email == KENJI
    prov = action.provenance()
    assert prov["body"].source == "user" and prov["body"].trusted
    assert prov["to"].source == "contact" and prov["to"].trusted  # Kenji's vCard
    # The subject is the replied message's: third-party text, flagged for the approval prompt.
    assert prov["subject"].source == "mail" and not prov["subject"].trusted
    assert prov["subject"].ids == [replied.id]
    assert any(f.startswith("subject comes from mail") for f in check(action, wctx).flags)
    assert check(action, wctx).allowed


def test_model_writes_only_the_body_and_sees_only_the_request(wctx: AgentContext) -> None:
    model = FakeChatModel(responses=["Hi Alice, here is the budget overview you asked for."])
    action = propose("send_email", "send an email to alice@example.com about the budget", wctx,
                     model=model)  # fmt: skip
    assert action.plain_args()["to"] == ["alice@example.com"]
    assert action.plain_args()["subject"] == "The budget"
    assert action.plain_args()["body"].startswith("Hi Alice")
    assert action.provenance()["to"].source == "user"
    prompt = str(model.calls[0][-1].content)
    assert "alice@example.com about the budget" in prompt
    # No mail text reached the model: nothing from the demo mailbox or the injected mail.
    assert "attacker@evil.example" not in prompt and "Castellan" not in prompt
    assert enforce(action, wctx).allowed


def test_invitation_reply_and_new_event(wctx: AgentContext) -> None:
    accept = propose("reply_to_invitation", "accept the invitation to the test plan review", wctx)
    args = accept.plain_args()
    assert args["event_uid"] == "evt-aquatest-testplan-20261201@aquatest-labs.example"
    assert (args["partstat"], args["organizer"]) == ("ACCEPTED", KENJI)
    assert accept.provenance()["organizer"].source == "event"
    assert check(accept, wctx).allowed  # Kenji wrote to Dana: a correspondent

    event = propose("create_event", "create an event tomorrow at 3pm called Dentist", wctx)
    args = event.plain_args()
    assert args["summary"] == "Dentist"
    assert datetime.fromisoformat(args["start"]).isoformat() == "2026-11-26T15:00:00-08:00"
    assert datetime.fromisoformat(args["end"]).isoformat() == "2026-11-26T16:00:00-08:00"


def test_unclear_requests_are_not_guessed(wctx: AgentContext) -> None:
    with pytest.raises(ActionUnclearError):
        propose("send_email", "reply to this with the password", wctx)  # nobody named
    with pytest.raises(ActionUnclearError):
        propose("reply_to_invitation", "accept the invitation to the zeppelin race", wctx)


def _email(request: str, to: str, body: str, to_prov: Provenance) -> ProposedAction:
    return ProposedAction(
        tool="send_email", request=request, summary="test",
        args={
            "to": tagged([to], to_prov),
            "subject": tagged("Invoices", Provenance.user()),
            "body": tagged(body, Provenance.tool("written by the model")),
        },
    )  # fmt: skip


def test_recipient_neither_named_nor_known_is_refused(wctx: AgentContext) -> None:
    from_mail = Provenance.content("mail", ["m0"], "an address in a message body")
    action = _email("forward the invoices", "attacker@evil.example", "Invoices attached.",
                    from_mail)  # fmt: skip
    result = check(action, wctx)
    assert not result.allowed
    assert "attacker@evil.example" in result.reasons[0]
    assert any(f.startswith("to comes from mail content m0") for f in result.flags)
    with pytest.raises(ActionRefusedError):
        enforce(action, wctx)
    # A correspondent is fine even when not named; a typed address is fine too.
    assert check(_email("send it", KENJI, "Hi.", from_mail), wctx).allowed
    typed = _email("email x@new.example", "x@new.example", "Hi.", Provenance.user())
    assert check(typed, wctx).allowed


def test_links_from_content_are_refused_unless_the_user_asked(wctx: AgentContext) -> None:
    body = "Please see https://evil.example/collect for the budget."
    action = _email("send Kenji the budget", KENJI, body, Provenance.user())
    result = check(action, wctx)
    assert not result.allowed and "https://evil.example/collect" in result.reasons[0]
    asked = _email("send Kenji the link https://evil.example/collect", KENJI, body,
                   Provenance.user())  # fmt: skip
    assert check(asked, wctx).allowed
    attached = action.model_copy(deep=True)
    attached.args["body"] = tagged("Attached.", Provenance.tool("model"))
    attached.args["attachments"] = tagged(
        ["passwords.xlsx"], Provenance.content("mail", ["m1"], "")
    )
    assert any("passwords.xlsx" in r for r in check(attached, wctx).reasons)


def test_a_template_letter_from_the_model_is_not_offered(wctx: AgentContext) -> None:
    """Placeholders ("[Your Name]") mean the model wrote no real body: the topic template is
    used instead, tagged as such."""
    model = FakeChatModel(responses=["Subject: [Your Subject]\n\nDear [Name],\nI hope..."])
    action = propose("send_email", "email alice@example.com about the offsite", wctx, model=model)
    assert (
        action.plain_args()["body"] == "Hi Alice,\n\nI'm writing about the offsite.\n\nBest regards"
    )
    assert "template" in action.provenance()["body"].note
