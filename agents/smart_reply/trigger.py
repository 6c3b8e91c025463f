"""Triggering: should this message get reply chips at all?

Gmail's Smart Reply first decides *whether* to suggest; most mail should get nothing. The checks
run cheapest and most certain first, and the first one that decides wins:

1. the user's own mail (sent folder, or sent from one of the user's addresses);
   then a likely phish (:mod:`agents.safety.phishing`): no chip that agrees to act on it
   ("Sure, I'll send it over"), the reasons are shown instead;
2. automatic replies (``Auto-Submitted: auto-replied`` (RFC 3834), out-of-office subjects);
3. other automated mail (``Auto-Submitted`` other than ``no``);
4. mailing lists (``List-Id``, ``List-Unsubscribe``, ``List-Post``; RFC 2369/2919);
5. bulk mail (``Precedence: bulk|list|junk``);
6. no-reply senders (``no-reply@``, ``mailer-daemon@``, ...);
7. what the text asks: a meeting request, a question, a request, thanks or news trigger;
   anything else ("FYI", status updates, "no action needed") asks nothing of the user.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from agents.safety.phishing import PhishingSignal
from agents.smart_reply.schemas import TriggerDecision
from core.types import Message

_SENT_FOLDER = re.compile(r"(?:^|[./\\])(?:_?sent(?:[ _]?(?:mail|items|messages))?)$", re.I)
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response)|out of (?:the )?office|"
    r"abwesenheitsnotiz|réponse automatique|respuesta automática)\b",
    re.I,
)
_NO_REPLY_LOCAL = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer-daemon|postmaster|bounces?|notifications?)"
    r"(?:[-+._].*)?$",
    re.I,
)
_NO_ACTION = re.compile(
    r"\b(?:no (?:action|reply|response) (?:is )?(?:needed|required)|for your information only|"
    r"please do not reply|do not reply to this)\b",
    re.I,
)
_REQUEST = re.compile(
    r"\b(?:could|can|would|will) you\b|\bplease (?!find\b|see\b|note\b)|\blet me know\b|"
    r"\b(?:can|could|shall|should) (?:we|i)\b|\bwould you be\b|\bare you (?:free|available|ok)\b|"
    r"\bwhat do you think\b|\byour (?:call|thoughts|input|feedback|approval)\b|"
    r"\ba yes or no\b|\brsvp\b|\bhas invited you\b|\byou(?:'re| are) invited\b|"
    r"\bplease find attached\b",
    re.I,
)
_THANKS = re.compile(r"\b(?:thank you|thanks|many thanks|appreciate)\b", re.I)
_NEWS = re.compile(
    r"\b(?:great|good|exciting|happy) news\b|\bcongrat|\baccepted (?:our|the) offer\b", re.I
)


#: Decisions a learned trigger may overturn: the guesses about what the text asks (header facts
#: and safety checks decide before it). A proposed meeting time still triggers on its own.
LEARNED_REASONS = frozenset({"no_ask", "question", "request", "thanks", "news"})


def is_sent_folder(folder: str | None) -> bool:
    """Whether a folder name is a sent-mail folder (``.Sent``, ``Sent Items``, ``_sent_mail``)."""
    return bool(folder) and bool(_SENT_FOLDER.search(folder.strip()))  # type: ignore[union-attr]


def _asks(text: str) -> tuple[str, str] | None:
    if "?" in text:
        return "question", "the message asks a question"
    if m := _REQUEST.search(text):
        return "request", f"the message makes a request ({m.group(0).strip()!r})"
    if m := _NEWS.search(text):
        return "news", f"the message shares news ({m.group(0).strip()!r})"
    if m := _THANKS.search(text):
        return "thanks", f"the message thanks the user ({m.group(0).strip()!r})"
    return None


def decide(
    message: Message,
    *,
    user_emails: Collection[str] = (),
    meeting_request: bool = False,
    phishing: PhishingSignal | None = None,
) -> TriggerDecision:
    """Decide whether ``message`` should get chips; see the module docstring for the order.

    ``user_emails`` are the user's own addresses (lower case); ``meeting_request`` says a
    proposed meeting time was found in the text; ``phishing`` is the message's scam signal.
    """
    sender = message.sender.email.lower() if message.sender else ""
    headers = message.headers
    if is_sent_folder(message.folder) or (sender and sender in user_emails):
        return TriggerDecision(triggered=False, reason="own_message", detail="sent by the user")
    if phishing is not None and phishing.likely_phish:
        # Every chip agrees, declines or asks back: none is a safe answer to a scam.
        detail = f"likely phishing (score {phishing.score:.2f}): " + "; ".join(phishing.reasons)
        return TriggerDecision(triggered=False, reason="likely_phish", detail=detail)
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto.startswith("auto-replied") or _AUTO_REPLY_SUBJECT.search(message.subject):
        detail = f"Auto-Submitted: {auto}" if auto else f"subject {message.subject!r}"
        return TriggerDecision(triggered=False, reason="auto_reply", detail=detail)
    if auto and auto != "no":
        return TriggerDecision(
            triggered=False, reason="automated", detail=f"Auto-Submitted: {auto}"
        )
    for name in ("list-id", "list-unsubscribe", "list-post"):
        if name in headers:
            return TriggerDecision(
                triggered=False, reason="mailing_list", detail=f"{name} header present"
            )
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in {"bulk", "list", "junk"}:
        return TriggerDecision(triggered=False, reason="bulk", detail=f"Precedence: {precedence}")
    local = sender.split("@", 1)[0]
    if local and _NO_REPLY_LOCAL.match(local):
        return TriggerDecision(triggered=False, reason="no_reply_sender", detail=sender)
    text = f"{message.subject}\n{message.new_text or message.body_text[:2000]}"
    if meeting_request:
        return TriggerDecision(
            triggered=True, reason="meeting_request", detail="the message proposes a meeting time"
        )
    if m := _NO_ACTION.search(text):
        return TriggerDecision(triggered=False, reason="no_ask", detail=f"says {m.group(0)!r}")
    asked = _asks(text)
    if asked is None:
        return TriggerDecision(
            triggered=False, reason="no_ask", detail="no question, request, thanks or news"
        )
    reason, detail = asked
    return TriggerDecision(triggered=True, reason=reason, detail=detail)  # type: ignore[arg-type]
