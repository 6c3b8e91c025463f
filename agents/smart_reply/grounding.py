"""Ground meeting chips in the user's calendar.

"Works for me" is offered only when the calendar has no hard conflict at the proposed time;
otherwise the chip proposes the best slot :func:`retrieval.store.freetime.find_free_time`
finds. What counts as a conflict follows freetime's rules (cancelled, transparent and declined
events never block; tentative ones are soft). One extra rule: a confirmed event at that time
that already involves the sender (as organizer or attendee) *is* the proposed meeting, so the
status is ``on_calendar`` rather than ``busy``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from agents.smart_reply.schemas import CalendarCheck, CalendarStatus
from agents.smart_reply.timeparse import FoundTime
from retrieval.store.freetime import busy_from_events, find_free_time

if TYPE_CHECKING:
    from retrieval.store.calendar import CalendarStore

#: How far ahead an alternative slot may be proposed.
ALTERNATIVE_HORIZON = timedelta(days=7)


def _involves(event_people: Collection[str], sender: str) -> bool:
    return bool(sender) and sender in event_people


def check_time(
    calendar: CalendarStore | None,
    user: str,
    proposed: FoundTime,
    *,
    zone: tzinfo,
    sender: str = "",
    user_emails: Collection[str] = (),
    now: datetime | None = None,
) -> CalendarCheck:
    """What ``user``'s calendar says about ``proposed``; with an alternative when busy."""
    if calendar is None:
        return CalendarCheck(status="no_calendar")
    if now is not None and proposed.start < now:
        return CalendarCheck(status="past")
    events = calendar.events_between(
        user, proposed.start - timedelta(days=1), proposed.end + timedelta(days=1), tz=zone
    )
    by_uid = {e.uid: e for e in events}
    overlapping = [
        b
        for b in busy_from_events(events, user_emails=user_emails)
        if b.start < proposed.end and b.end > proposed.start
    ]
    hard = [b for b in overlapping if not b.soft]
    soft = [b for b in overlapping if b.soft]
    if not hard:
        status: CalendarStatus = "tentative" if soft else "free"
        return CalendarCheck(status=status, conflicts=[b.summary for b in soft])
    sender = sender.lower()
    same_meeting = [
        b
        for b in hard
        if (event := by_uid.get(b.uid)) is not None
        and _involves({event.organizer or "", *(a.email for a in event.attendees)}, sender)
    ]
    if len(same_meeting) == len(hard):
        return CalendarCheck(status="on_calendar", conflicts=[b.summary for b in hard])
    alternative = _alternative(calendar, user, proposed, zone, sender, user_emails, now)
    return CalendarCheck(
        status="busy", conflicts=[b.summary for b in hard], alternative=alternative
    )


def _alternative(
    calendar: CalendarStore,
    user: str,
    proposed: FoundTime,
    zone: tzinfo,
    sender: str,
    user_emails: Collection[str],
    now: datetime | None,
) -> datetime | None:
    # Search from the proposed day (never before now): the sender asked for that day, so a
    # free slot on it is the most useful answer; find_free_time ranks earlier days first.
    day_start = proposed.start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    start = max(day_start, now) if now is not None else day_start
    window = (start, start + ALTERNATIVE_HORIZON)
    slots = find_free_time(
        calendar,
        user,
        proposed.end - proposed.start,
        window,
        tz=zone,
        attendees=[sender] if sender else None,
        user_emails=user_emails,
        limit=3,
    )
    free = [s for s in slots if not s.tentative_conflicts] or slots
    return free[0].start if free else None
