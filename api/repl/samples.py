"""``/sample``: pick real mail (a message or thread id, a keyword search, or an ``.eml`` file)
and fill the variables a prompt declares from it.

Only variables the sample can answer are filled (the same shapes the agents pass: the message's
own text, numbered thread messages...); the rest stay for ``/set``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import InputError, NotFoundError
from core.ids import MESSAGE_ID, THREAD_ID

if TYPE_CHECKING:
    from core.types import Message
    from prompts.render import Prompt
    from retrieval.store.base import Store

#: Characters of one message's text given to a prompt (``summarize_message`` uses 4000 too).
TEXT_CHARS = 4000


@dataclass
class Sample:
    """Mail a prompt is filled from: the picked message and its thread (oldest first).

    Single-message variables (``text``, ``sender``...) come from :attr:`focus`; thread
    variables (``messages``) from :attr:`messages`. A thread id focuses on its newest message."""

    kind: str
    id: str
    subject: str
    messages: list[Message]
    focus: Message
    #: Other search hits (ids), shown so the user can pick another.
    alternatives: list[str] = field(default_factory=list)

    def numbered(self, chars: int = 1200) -> list[str]:
        """``[n] From: who, date`` blocks, the format of :mod:`agents.summarize.thread`."""
        out = []
        for i, m in enumerate(self.messages, 1):
            who = str(m.sender) if m.sender else "unknown"
            when = m.date.strftime("%d %b %Y") if m.date else "no date"
            out.append(f"[{i}] From: {who}, {when}\n{_text(m)[:chars]}")
        return out

    def values(self, prompt: Prompt, user: str) -> dict[str, Any]:
        """Values for the variables of ``prompt`` this sample can fill."""
        last = self.focus
        known: dict[str, Any] = {
            "text": _text(last)[:TEXT_CHARS],
            "email": _text(last) or "(empty)",
            "subject": self.subject or "(no subject)",
            "sender": str(last.sender) if last.sender else "(unknown sender)",
            "messages": self.numbered(),
            "user_name": user,
            "max_sentences": 5,
        }
        return {v.name: known[v.name] for v in prompt.variables if v.name in known}


def _text(message: Message) -> str:
    return (message.new_text or message.body_text).strip()


def load_sample(store: Store, user: str, spec: str, *, search_limit: int = 5) -> Sample:
    """A sample from a message id (``m…``), a thread id (``t…``), a path to an ``.eml`` file,
    or else a keyword query (the best hit; the others are listed as alternatives)."""
    spec = spec.strip()
    if not spec:
        raise InputError("/sample needs a message id, a thread id, a search query or an .eml path")
    if MESSAGE_ID.fullmatch(spec):
        message = store.get_message(user, spec)
        if message is None:
            raise NotFoundError(f"no message {spec} for user {user}")
        return _with_thread(store, user, "message", message)
    if THREAD_ID.fullmatch(spec):
        found = store.get_thread(user, spec)
        if found is None or not found[1]:
            raise NotFoundError(f"no thread {spec} for user {user}")
        _thread, messages = found
        return Sample("thread", spec, messages[0].subject, messages, messages[-1])
    path = Path(spec).expanduser()
    if spec.endswith(".eml") or path.is_file():
        return _from_eml(path)
    hits = store.search_text(user, spec, limit=search_limit)
    if not hits:
        raise InputError(f"no message of {user} matches {spec!r}")
    message = store.get_message(user, hits[0].message_id)
    if message is None:  # removed between the search and the read
        raise InputError(f"message {hits[0].message_id} is gone")
    sample = _with_thread(store, user, "search", message)
    sample.alternatives = [h.message_id for h in hits[1:]]
    return sample


def _with_thread(store: Store, user: str, kind: str, message: Message) -> Sample:
    """A sample focused on ``message`` with the messages of its thread as context."""
    found = store.get_thread(user, message.thread_id) if message.thread_id else None
    messages = found[1] if found is not None and found[1] else [message]
    subject = messages[0].subject if len(messages) > 1 else message.subject
    return Sample(kind, message.id, subject, messages, message)


def _from_eml(path: Path) -> Sample:
    from core.errors import ParseError
    from retrieval.sources.mail.parse import parse_message

    if not path.is_file():
        raise InputError(f"no such .eml file: {path}")
    try:
        message = parse_message(path.read_bytes())
    except ParseError as exc:
        raise InputError(f"{path.name} is not an email: {exc}") from exc
    return Sample("eml", message.id, message.subject, [message], message)
