"""Tool results as compact text for a small model, and one-line source descriptions.

JSON is exact but long; a 135M model reads ``[m12] Tue 04 Nov, José Martínez: Re: Quote — ...``
far better than nested objects, and copies less of it back verbatim.
"""

from __future__ import annotations

from pydantic import BaseModel

from tools.schemas import (
    FindFreeTimeResult,
    ListEventsResult,
    ListMessagesResult,
    LookupContactsResult,
    MessageView,
    SearchMailboxResult,
    ThreadView,
)


def _who(sender: str) -> str:
    return sender.split("<", maxsplit=1)[0].strip() or sender


def render(artifact: BaseModel) -> str:
    """Readable text for one tool result."""
    if isinstance(artifact, SearchMailboxResult):
        if not artifact.hits:
            return f"No email matched '{artifact.query}'."
        return "\n".join(
            f"[{h.message_id}] {h.date}, {_who(h.sender)}: {h.subject} — {h.snippet}"
            for h in artifact.hits[:5]
        )
    if isinstance(artifact, MessageView):
        head = f"[{artifact.message_id}] {artifact.date}, {_who(artifact.sender)}"
        # A small model's prompt time grows with every character: keep the start of the text.
        return f"{head}: {artifact.subject}\n{artifact.text[:700]}"
    if isinstance(artifact, ThreadView):
        return f"Thread: {artifact.subject}\n" + "\n".join(
            f"[{m.message_id}] {m.date}, {_who(m.sender)}: {m.text[:300]}"
            for m in artifact.messages[-6:]
        )
    if isinstance(artifact, ListEventsResult):
        if not artifact.events:
            return f"No events between {artifact.start} and {artifact.end}."
        return "\n".join(
            f"[{e.event_id}] {e.summary}: {e.start} to {e.end}"
            + (f", {e.location}" if e.location else "")
            + (f" ({e.status.lower()})" if e.status != "CONFIRMED" else "")
            + (f"; with {', '.join(e.attendees[:6])}" if e.attendees else "")
            for e in artifact.events
        )
    if isinstance(artifact, FindFreeTimeResult):
        if not artifact.slots:
            return "No free slot of that length in working hours."
        return "Free slots: " + "; ".join(
            # "Wed 25 Nov 2026 14:00 PST" ends at "14:00 PST": the day is the start's.
            f"{s.start} to {' '.join(s.end.split()[4:])}"
            + (" (tentative conflict)" if s.tentative_conflicts else "")
            for s in artifact.slots
        )
    if isinstance(artifact, LookupContactsResult):
        if not artifact.contacts:
            return f"No contact matched '{artifact.query}'."
        return "\n".join(
            f"[{c.contact_id}] {c.name}"
            + (f", {c.title}" if c.title else "")
            + (f" at {c.organization}" if c.organization else "")
            + (f"; email {', '.join(c.emails)}" if c.emails else "")
            + (f"; phone {', '.join(c.phones)}" if c.phones else "")
            for c in artifact.contacts
        )
    if isinstance(artifact, ListMessagesResult):
        more = "at least " if artifact.capped else ""
        filters = [
            f"{k} {v}"
            for k, v in (("from", artifact.sender), ("to", artifact.recipient),
                         ("after", artifact.after), ("before", artifact.before))
            if v
        ]  # fmt: skip
        head = f"{more}{artifact.total} messages match" + (
            f" ({', '.join(filters)})" if filters else ""
        )
        top = "; ".join(f"{_who(s.person)} {s.messages}" for s in artifact.top_senders)
        head += f"\nMost messages from: {top}" if top else ""
        to = "; ".join(f"{_who(s.person)} {s.messages}" for s in artifact.top_recipients)
        head += f"\nMost messages to: {to}" if to else ""
        return head + "".join(
            f"\n[{h.message_id}] {h.date}, {_who(h.sender)}: {h.subject}" for h in artifact.messages
        )
    return artifact.model_dump_json(exclude_none=True)


def describe(artifacts: list[BaseModel]) -> dict[str, str]:
    """A one-line description for every citable id in ``artifacts`` (the answer's source list)."""
    out: dict[str, str] = {}
    for a in artifacts:
        if isinstance(a, SearchMailboxResult):
            for h in a.hits:
                out.setdefault(
                    h.message_id, f"{h.subject} — {_who(h.sender)}, {h.date}: {h.snippet}"
                )
        elif isinstance(a, MessageView):
            first = " ".join(a.text.split())[:200]
            out[a.message_id] = f"{a.subject} — {_who(a.sender)}, {a.date}: {first}"
        elif isinstance(a, ThreadView):
            for m in a.messages:
                text = " ".join(m.text.split())[:160]
                out.setdefault(m.message_id, f"{m.subject} — {_who(m.sender)}, {m.date}: {text}")
        elif isinstance(a, ListEventsResult):
            for e in a.events:
                where = f", {e.location}" if e.location else ""
                out.setdefault(
                    e.event_id, f"{e.summary}: {e.start} to {e.end}{where} ({e.status.lower()})"
                )
        elif isinstance(a, LookupContactsResult):
            for c in a.contacts:
                bits = [c.title, c.organization, ", ".join(c.emails), ", ".join(c.phones)]
                out.setdefault(c.contact_id, f"{c.name}: " + "; ".join(b for b in bits if b))
        elif isinstance(a, ListMessagesResult):
            for h in a.messages:
                out.setdefault(
                    h.message_id, f"{h.subject} — {_who(h.sender)}, {h.date}: {h.snippet}"
                )
        elif isinstance(a, FindFreeTimeResult):
            for b in a.busy:
                out.setdefault(b.event_id, f"{b.summary}: {b.start} to {b.end} (busy)")
    return out
