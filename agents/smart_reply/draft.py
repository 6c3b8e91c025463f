"""Full draft replies written by an LLM (the long form beside the chips).

The prompt is ``prompts/draft_reply.md``, rendered strictly by :func:`prompts.render`: the email,
calendar and contact text are spotlighted (random-tag delimiters, every line prefixed ``^ ``)
and the system part says that marked text is data. The rendered prompt has a system part and a
user part separated by the line named in the front-matter's ``separator``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ModelError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from agents.smart_reply.schemas import SmartReplyResult
    from core.types import Contact, Message

PROMPT = "draft_reply"
_NONE = "(nothing known)"


def calendar_context_from(result: SmartReplyResult | None) -> str:
    """Calendar facts for the prompt from a :func:`~agents.smart_reply.suggest` result."""
    if result is None or result.proposed_time is None or result.calendar_check is None:
        return "No meeting time was proposed."
    p, c = result.proposed_time, result.calendar_check
    when = f"{p.start:%a %d %b %Y %H:%M}-{p.end:%H:%M} ({p.start.tzinfo})"
    lines = [f"Proposed time: {when}."]
    if c.status in {"free", "tentative"}:
        lines.append("The user is free then.")
    elif c.status == "on_calendar":
        lines.append("This meeting is already on the user's calendar.")
    elif c.status == "busy":
        lines.append("The user is busy then.")
        if c.alternative is not None:
            lines.append(f"First free slot: {c.alternative:%a %d %b %Y %H:%M}.")
    elif c.status == "past":
        lines.append("That time has already passed.")
    else:
        lines.append("The calendar is not available; do not accept or decline the time.")
    return "\n".join(lines)


def contact_context_from(contact: Contact | None) -> str:
    """Address-book facts about the sender for the prompt."""
    if contact is None:
        return "The sender is not in the user's contacts."
    parts = [f"Name: {contact.full_name}"]
    if contact.nicknames:
        parts.append(f"Goes by: {', '.join(contact.nicknames)}")
    if contact.title or contact.organization:
        parts.append(f"Role: {', '.join(p for p in (contact.title, contact.organization) if p)}")
    if contact.messages_from or contact.messages_to:
        parts.append(
            f"Mail history: {contact.messages_from} received from, {contact.messages_to} sent to"
        )
    return "\n".join(parts)


def build_messages(
    message: Message,
    *,
    calendar_context: str,
    contact_context: str,
    user_name: str = "the user",
    hint: str | None = None,
) -> list[tuple[str, str]]:
    """``[("system", ...), ("human", ...)]`` from the rendered prompt."""
    from prompts import load_prompt, render_prompt

    prompt = load_prompt(PROMPT)
    sender = str(message.sender) if message.sender else "(unknown sender)"
    text = render_prompt(
        prompt,
        user_name=user_name,
        sender=sender,
        subject=message.subject or "(no subject)",
        email=message.new_text or message.body_text or "(empty)",
        calendar_context=calendar_context or _NONE,
        contact_context=contact_context or _NONE,
        hint=hint,
    )
    separator = str(prompt.meta.get("separator", "=== user ==="))
    system, _, user = text.partition(f"\n{separator}\n")
    if not user:
        raise ModelError(f"prompt {prompt.id} lacks its {separator!r} line")
    return [("system", system.strip()), ("human", user.strip())]


def draft_reply(
    message: Message,
    *,
    chat_model: BaseChatModel,
    calendar_context: str,
    contact_context: str,
    user_name: str = "the user",
    hint: str | None = None,
) -> str:
    """A full reply to ``message`` written by ``chat_model`` (any LangChain chat model).

    ``calendar_context`` / ``contact_context`` are plain-text facts (see
    :func:`calendar_context_from`, :func:`contact_context_from`); they are marked as untrusted
    data in the prompt like the email itself. ``hint`` is the user's own direction (trusted),
    e.g. the chip they picked. Raises :class:`~core.errors.ModelError` on an empty answer.
    """
    messages = build_messages(
        message,
        calendar_context=calendar_context,
        contact_context=contact_context,
        user_name=user_name,
        hint=hint,
    )
    answer = chat_model.invoke(messages)
    reply = str(answer.text).strip()  # .text joins content blocks too
    if not reply:
        raise ModelError("the chat model returned an empty draft")
    return reply
