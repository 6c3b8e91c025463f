"""``suggest``: the chip path end to end (trigger → retrieve → ground → rank), no LLM.

:class:`SmartReplier` holds what is worth keeping between calls (the response index, the
user's addresses and time zone); :func:`suggest` is the one-call form and keeps one replier per
embedder and data dir, so repeated calls do not re-embed the response set.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections import Counter
from collections.abc import Collection
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from agents.safety.phishing import assess, frequent_domains
from agents.smart_reply.grounding import check_time
from agents.smart_reply.index import ResponseIndex, open_response_index
from agents.smart_reply.learned import (
    HAND_FEATURES,
    LearnedModel,
    SenderHistory,
    features,
    learned_decision,
    load_model,
)
from agents.smart_reply.rank import GroundingContext, first_name, rank
from agents.smart_reply.responses import ResponseSet, load_responses
from agents.smart_reply.schemas import ProposedTime, SmartReplyResult
from agents.smart_reply.timeparse import find_proposed_time, format_slot
from agents.smart_reply.trigger import LEARNED_REASONS, decide, is_sent_folder
from core.errors import InputError, ModelError, NotFoundError
from core.types import Message
from retrieval.index.embeddings import Embedder
from retrieval.store.base import check_user

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from core.types import Contact
    from retrieval.store.base import Store
    from retrieval.store.calendar import CalendarStore
    from retrieval.store.contacts import ContactStore

#: Characters of the message's own text that are embedded. MiniLM's cost grows with length
#: (the p95 budget is 50 ms on CPU; on the shared 2-core box 400 chars cost ~70 ms, 256 ~45 ms),
#: so the sentences that ask something go first and the rest fills up to this length.
QUERY_CHARS = 256
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_ASK = re.compile(
    r"\?|\b(?:could|can|would|will) you\b|\bplease\b|\blet me know\b|\bthank|\binvit", re.I
)
_SIGNOFF = re.compile(r"\n\s*(?:best|regards|thanks|cheers|saludos)[^\n]{0,30}\n[\s\S]*$", re.I)


def query_text(message: Message) -> str:
    """What is embedded for retrieval: the start of the new text, after the subject for new
    threads only (a reply's subject names the thread's first topic, not what this message says:
    "Re: two sensors offline" on a message reporting that the replacements work)."""
    body = message.new_text or message.body_text
    sentences = _SENTENCE.split(" ".join(_SIGNOFF.sub("", body.strip()).split()))
    asks = [x for x in sentences if _ASK.search(x)]
    body = " ".join(asks + [x for x in sentences if not _ASK.search(x)])[:QUERY_CHARS]
    if message.subject_is_reply:
        return body
    subject = message.normalized_subject or message.subject
    return f"{subject}\n{body}".strip()


def user_addresses(store: Store, user: str) -> frozenset[str]:
    """The user's own addresses: the senders of their sent folders (lower case)."""
    senders: Counter[str] = Counter()
    for folder in store.stats(user).folders:
        if is_sent_folder(folder):
            for m in store.list_messages(user, folder=folder, limit=50):
                if m.sender:
                    senders[m.sender.email.lower()] += 1
    return frozenset(senders)


class SmartReplier:
    """Smart-reply chips for one embedder and response set.

    ``calendar`` grounds meeting chips; ``contacts`` supplies nicknames ("Sam" for Samantha).
    ``data_dir`` puts the response vectors in a Qdrant Edge shard there; without it a numpy
    index is used (tests, one-off calls).
    """

    def __init__(
        self,
        *,
        embedder: Embedder,
        calendar: CalendarStore | None = None,
        contacts: ContactStore | None = None,
        data_dir: Path | None = None,
        responses: ResponseSet | None = None,
        index: ResponseIndex | None = None,
    ) -> None:
        self.embedder = embedder
        self.calendar = calendar
        self.contacts = contacts
        #: Where trained trigger/priority models are looked for (``<data_dir>/models/<kind>``).
        self.data_dir = data_dir
        self.responses = responses or load_responses()
        self.index = index or open_response_index(self.responses, embedder, data_dir)
        self._user_emails: dict[tuple[int, str], frozenset[str]] = {}
        self._domains: dict[tuple[int, str], frozenset[str]] = {}
        self._zones: dict[str, tzinfo] = {}
        self._model_warned: set[str] = set()

    def close(self) -> None:
        """Release the response index."""
        self.index.close()

    # -- per-user facts, cached: they change rarely and cost store queries ------------------

    def user_emails(self, store: Store | None, user: str) -> frozenset[str]:
        """The user's own addresses: senders of their sent folders (most frequent first)."""
        if store is None:
            return frozenset()
        key = (id(store), user)
        if key not in self._user_emails:
            self._user_emails[key] = user_addresses(store, user)
        return self._user_emails[key]

    def known_domains(self, store: Store | None, user: str) -> frozenset[str]:
        """Domains of the user's frequent correspondents (what a look-alike sender imitates)."""
        if store is None:
            return frozenset()
        key = (id(store), user)
        if key not in self._domains:
            self._domains[key] = frozenset(frequent_domains(store.list_messages(user, limit=500)))
        return self._domains[key]

    def user_zone(self, user: str, around: datetime) -> tzinfo:
        """The user's zone: the zone of their calendar's events (mail dates are stored in UTC)."""
        if user in self._zones:
            return self._zones[user]
        zone: tzinfo = UTC
        if self.calendar is not None:
            events = self.calendar.events_between(
                user, around - timedelta(days=60), around + timedelta(days=60)
            )
            zones = Counter(
                e.start.tzinfo.key
                for e in events
                if not e.all_day and isinstance(e.start.tzinfo, ZoneInfo)
            )
            if zones:
                zone = ZoneInfo(zones.most_common(1)[0][0])
        self._zones[user] = zone
        return zone

    def _models(self) -> tuple[LearnedModel | None, LearnedModel | None]:
        """The trained trigger and priority models; one that cannot be used (unreadable, or
        made for other features) is reported once and the rules apply instead of failing chips."""
        out: list[LearnedModel | None] = []
        for kind in ("trigger", "priority"):
            try:
                model = load_model(self.data_dir, kind)  # type: ignore[arg-type]
                if model is not None and model.mean.shape[0] != len(HAND_FEATURES) + (
                    self.embedder.dim if model.embedding else 0
                ):
                    raise ModelError(f"the {kind} model was trained with another embedding model")
            except ModelError as exc:
                if kind not in self._model_warned:
                    log.warning("%s; using the rules", exc)
                    self._model_warned.add(kind)
                model = None
            out.append(model)
        return out[0], out[1]

    def _sender(self, user: str, email: str) -> Contact | None:
        """The sender's contact (names, mail counts), or None: read once per chip request."""
        if self.contacts is None or not email:
            return None
        return self.contacts.get_by_email(user, email)

    # -- the chip path --------------------------------------------------------------------

    def suggest(
        self,
        store_or_message: Store | Message,
        user: str,
        message_id: str | None,
        *,
        now: datetime | None = None,
        user_emails: Collection[str] | None = None,
        zone: tzinfo | None = None,
    ) -> SmartReplyResult:
        """Chips for one of ``user``'s messages (see :func:`agents.smart_reply.suggest`)."""
        t0 = time.perf_counter()
        check_user(user)
        store: Store | None = None
        if isinstance(store_or_message, Message):
            message = store_or_message
            if message_id and message_id != message.id:
                raise InputError(f"message id {message_id!r} does not match the given message")
        else:
            store = store_or_message
            if not message_id:
                raise InputError("a message id is required")
            found = store.get_message(user, message_id)
            if found is None:
                raise NotFoundError(f"message {message_id!r} not found for user {user!r}")
            message = found
        emails = (
            frozenset(e.lower() for e in user_emails)
            if user_emails is not None
            else self.user_emails(store, user)
        )
        ref = message.date or now or datetime.now(UTC)
        zone = zone or self.user_zone(user, ref)
        sender = message.sender.email.lower() if message.sender else ""

        found_time = find_proposed_time(f"{message.subject}\n{message.new_text}", ref, zone)
        signal = assess(message, known_domains=self.known_domains(store, user))
        decision = decide(
            message,
            user_emails=emails,
            meeting_request=found_time is not None,
            phishing=signal,
        )
        vector: np.ndarray | None = None
        looked_up: list[Contact | None] = []  # the sender's contact, read when first needed

        def sender_contact() -> Contact | None:
            if not looked_up:
                looked_up.append(self._sender(user, sender))
            return looked_up[0]

        trigger_model, priority_model = self._models()
        probability: float | None = None
        priority: float | None = None
        if trigger_model or priority_model:
            vector = self.embedder.embed_query(query_text(message))  # the chip path's vector
            contact = sender_contact()
            history = (
                SenderHistory(contact.messages_to, contact.messages_from)
                if contact is not None
                else SenderHistory()
            )
            if priority_model is not None:
                priority = priority_model.probability(
                    features(message, vector, user_emails=emails, history=history,
                             embedding=priority_model.embedding)
                )  # fmt: skip
            if trigger_model is not None and decision.reason in LEARNED_REASONS:
                # Header rules (own mail, phishing, lists, automation) stay certain; the model
                # replaces the guess about what the text asks. A proposed meeting still triggers.
                probability = trigger_model.probability(
                    features(message, vector, user_emails=emails, history=history,
                             embedding=trigger_model.embedding)
                )  # fmt: skip
                decision = learned_decision(decision, probability, trigger_model)
        result = SmartReplyResult(
            message_id=message.id,
            triggered=decision.triggered,
            reason=decision.reason,
            detail=decision.detail,
            phishing=signal if signal.reasons else None,
            trigger_probability=None if probability is None else round(probability, 4),
            priority=None if priority is None else round(priority, 4),
        )
        if not decision.triggered:
            result.latency_ms = (time.perf_counter() - t0) * 1000
            return result

        ctx = GroundingContext()
        if found_time is not None:
            check = check_time(
                self.calendar,
                user,
                found_time,
                zone=zone,
                sender=sender,
                user_emails=emails,
                now=now,
            )
            result.proposed_time = ProposedTime(
                start=found_time.start, end=found_time.end, text=found_time.text
            )
            result.calendar_check = check
            ctx = GroundingContext(
                check=check,
                proposed_text=format_slot(found_time.start, zone),
                alternative_text=format_slot(check.alternative, zone)
                if check.alternative
                else None,
            )
        if vector is None:
            vector = self.embedder.embed_query(query_text(message))
        scores = self.index.scores(vector)
        name = None
        if message.sender:
            contact = sender_contact()
            nicknames = [*contact.nicknames, contact.given_name] if contact is not None else []
            name = first_name(message.sender.name, nicknames)
        result.chips = rank(self.responses, scores, ctx=ctx, name=name, reason=decision.reason)
        result.latency_ms = (time.perf_counter() - t0) * 1000
        return result


_REPLIERS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], SmartReplier]] = (
    weakref.WeakKeyDictionary()
)
_INDEXES: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], ResponseIndex]] = (
    weakref.WeakKeyDictionary()
)


def shared_index(
    responses: ResponseSet, embedder: Embedder, data_dir: Path | None
) -> ResponseIndex:
    """One response index per embedder, data dir and response-set hash in this process.

    An Edge shard must not be opened twice, and re-embedding the examples costs ~1 s with MiniLM.
    """
    per_embedder = _INDEXES.setdefault(embedder, {})
    key = (str(data_dir) if data_dir else None, responses.sha256)
    if key not in per_embedder:
        per_embedder[key] = open_response_index(responses, embedder, data_dir)
    return per_embedder[key]


def suggest(
    store_or_message: Store | Message,
    user: str,
    message_id: str | None,
    *,
    calendar: CalendarStore | None,
    embedder: Embedder,
    now: datetime | None = None,
    contacts: ContactStore | None = None,
    data_dir: Path | None = None,
    user_emails: Collection[str] | None = None,
    zone: tzinfo | None = None,
) -> SmartReplyResult:
    """Smart-reply chips for ``user``'s message ``message_id``.

    ``store_or_message`` is the mail store (the message is read for ``user`` only; an id of
    another user raises :class:`~core.errors.NotFoundError`) or an already loaded
    :class:`~core.types.Message`. ``calendar`` (``user``'s events are read) grounds meeting
    chips: "works for me" only when the proposed time is free, else an alternative slot.
    ``now`` bounds calendar answers (no "works for me" for a past time); relative phrases
    ("tomorrow") resolve from the message date. ``data_dir`` keeps the response vectors in a
    Qdrant Edge shard under it. ``user_emails`` and ``zone`` override what is inferred (the
    senders of the user's sent folders; the zone of their calendar events).
    """
    responses = load_responses()
    per_embedder = _REPLIERS.setdefault(embedder, {})
    key = (id(calendar), id(contacts), str(data_dir) if data_dir else None, responses.sha256)
    replier = per_embedder.get(key)
    if replier is None or replier.calendar is not calendar or replier.contacts is not contacts:
        replier = SmartReplier(
            embedder=embedder,
            calendar=calendar,
            contacts=contacts,
            responses=responses,
            index=shared_index(responses, embedder, data_dir),
            data_dir=data_dir,
        )
        per_embedder[key] = replier
    return replier.suggest(
        store_or_message, user, message_id, now=now, user_emails=user_emails, zone=zone
    )
