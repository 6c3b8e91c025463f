"""Running an approved action. Only :class:`~agents.actions.service.ActionService` calls this,
and only for an action the store says is ``approved`` by its owner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agents.actions import calendar_write, itip
from agents.actions.calendar_write import CalendarTarget
from agents.actions.outbox import Outgoing, build_message, send_or_queue
from agents.actions.schemas import (
    ARG_MODELS,
    CreateEventArgs,
    EmailArgs,
    ReplyToInvitationArgs,
    UpdateEventArgs,
)
from core.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from core.settings import Settings
    from retrieval.sources.sync.dav import DavState
    from retrieval.store.actions import ActionStore, StoredAction
    from retrieval.store.base import Store
    from retrieval.store.calendar import CalendarStore


@dataclass(slots=True)
class ActionEnv:
    """What executing an action needs: settings (SMTP, DAV accounts) and the stores."""

    settings: Settings
    actions: ActionStore
    store: Store
    calendars: CalendarStore
    dav_state: DavState | None = None

    def user_addresses(self, user: str) -> list[str]:
        """The user's own addresses, most used first: the configured ``From``, then the senders
        of their sent folders."""
        from retrieval.ingest.hooks import own_addresses

        own = own_addresses(self.store, user)
        if self.settings.smtp.from_address:
            own.insert(0, self.settings.smtp.from_address.lower())
        return list(dict.fromkeys(own))

    def sender(self, user: str) -> str:
        """The ``From`` address of the user's outgoing mail."""
        own = self.user_addresses(user)
        return own[0] if own else f"{user}@localhost"

    @property
    def target(self) -> CalendarTarget:
        """Where events are written."""
        return CalendarTarget(self.calendars, self.settings, self.dav_state)


def _when(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"not an ISO datetime: {value!r}") from exc
    if parsed.tzinfo is None:
        raise InputError(f"the time {value!r} has no UTC offset")
    return parsed


def _email(env: ActionEnv, action: StoredAction, *, draft: bool) -> dict[str, Any]:
    args = EmailArgs.model_validate(action.args)
    if args.attachments:
        raise InputError("attachments cannot be sent: mailmind does not keep attachment content")
    references: list[str] = []
    in_reply_to = None
    if args.in_reply_to:
        original = env.store.get_message(action.user, args.in_reply_to)
        if original is None:
            raise NotFoundError(f"no message {args.in_reply_to!r} to reply to")
        in_reply_to = f"<{original.message_id.strip('<>')}>"
        references = [f"<{r.strip('<>')}>" for r in original.references]
    msg = build_message(
        Outgoing(
            sender=env.sender(action.user), to=list(args.to), cc=list(args.cc),
            subject=args.subject, body=args.body, in_reply_to=in_reply_to,
            references=references,
        )
    )  # fmt: skip
    return send_or_queue(
        env.actions, action.user, msg, env.settings.smtp, action_id=action.id, draft=draft
    )


def _invitation(env: ActionEnv, action: StoredAction) -> dict[str, Any]:
    args = ReplyToInvitationArgs.model_validate(action.args)
    row = env.calendars.get_component(action.user, args.event_uid)
    if row is None:
        raise NotFoundError(f"no invitation {args.event_uid!r} in your calendar")
    own = env.user_addresses(action.user)
    listed = itip.attendees_of(row["ics"])
    me = next((a for a in listed if a in own), None) or env.sender(action.user)
    reply = itip.build_reply(row["ics"], me, args.partstat, args.comment)
    word = {"ACCEPTED": "Accepted", "DECLINED": "Declined", "TENTATIVE": "Tentative"}
    title = args.summary or "invitation"
    msg = build_message(
        Outgoing(
            sender=me, to=[args.organizer], subject=f"{word[args.partstat]}: {title}",
            body=f"{word[args.partstat]}: {title}", calendar=reply, calendar_method="REPLY",
        )
    )  # fmt: skip
    sent = send_or_queue(env.actions, action.user, msg, env.settings.smtp, action_id=action.id)

    def change(ev: Any) -> bool:
        itip.set_partstat(ev, me, args.partstat)
        return False  # a reply changes no time: SEQUENCE stays (RFC 5546)

    written = calendar_write.rewrite_event(env.target, action.user, args.event_uid, change)
    return {**sent, "calendar": written, "attendee": me, "partstat": args.partstat}


def _create(env: ActionEnv, action: StoredAction) -> dict[str, Any]:
    args = CreateEventArgs.model_validate(action.args)
    return calendar_write.create_event(
        env.target, action.user, summary=args.summary, start=_when(args.start),
        end=_when(args.end), location=args.location, attendees=list(args.attendees),
        organizer=env.sender(action.user),
    )  # fmt: skip


def _update(env: ActionEnv, action: StoredAction) -> dict[str, Any]:
    args = UpdateEventArgs.model_validate(action.args)
    return calendar_write.update_event(
        env.target, action.user, args.event_uid, summary=args.summary,
        start=_when(args.start) if args.start else None,
        end=_when(args.end) if args.end else None, location=args.location,
    )  # fmt: skip


def execute(env: ActionEnv, action: StoredAction) -> dict[str, Any]:
    """Run ``action`` (its arguments validated again); returns what happened."""
    if action.tool not in ARG_MODELS:
        raise InputError(f"unknown action {action.tool!r}")
    if action.tool == "send_email":
        return _email(env, action, draft=False)
    if action.tool == "save_draft":
        return _email(env, action, draft=True)
    if action.tool == "reply_to_invitation":
        return _invitation(env, action)
    if action.tool == "create_event":
        return _create(env, action)
    return _update(env, action)
