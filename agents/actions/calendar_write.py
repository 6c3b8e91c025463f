"""Writing events: the user's calendar store, and CalDAV when the calendar came from there.

* ``create_event``: when one of the user's DAV accounts has a synced calendar, the event is
  PUT there (``If-None-Match: *``, never overwriting) and stored with that item as its source,
  so the next sync sees it unchanged; otherwise it is stored in the local calendar ``mailmind``.
* ``update_event`` / invitation replies: the stored event is rewritten; when its source is a
  CalDAV item (``dav:<account>:<href>``) the new version is PUT back to that href first
  (``If-Match`` with the synced etag, so a change made on the server meanwhile is not
  overwritten) and the local copy follows only when the server accepted it.
"""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import icalendar

from core.errors import InputError, NotFoundError, SyncError
from retrieval.sources.calendar.parse import parse_ics

if TYPE_CHECKING:
    from core.settings import DavAccount, Settings
    from retrieval.sources.sync.dav import DavState
    from retrieval.store.calendar import CalendarStore

PRODID = "-//mailmind//actions//EN"
LOCAL_CALENDAR = "mailmind"


@dataclass(slots=True)
class CalendarTarget:
    """Where an event is written: the store, plus a DAV account and href when remote."""

    calendars: CalendarStore
    settings: Settings
    dav_state: DavState | None = None


def _wrap(vevent_ics: str, timezones: str = "") -> str:
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{PRODID}\r\n{timezones}{vevent_ics}"
        "END:VCALENDAR\r\n"
    )


def _vevent(ics: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return icalendar.Event.from_ical(ics)


def _account(settings: Settings, user: str, name: str | None = None) -> DavAccount | None:
    for account in settings.sync.dav:
        if account.user == user and (name is None or account.name == name):
            return account
    return None


def _put(account: DavAccount, href: str, body: str, headers: dict[str, str]) -> str | None:
    """PUT ``body`` to ``href``; returns the new etag. :class:`SyncError` unless 201/204."""
    from retrieval.sources.sync.dav import DavSession

    session = DavSession(account)
    url = session.absolute(href)
    try:
        response = session.client.request(
            url, "PUT", body, {"Content-Type": "text/calendar; charset=utf-8", **headers}
        )
    except Exception as exc:
        raise SyncError(f"CalDAV PUT {url} failed: {type(exc).__name__}: {exc}") from exc
    if int(response.status) not in (200, 201, 204):
        raise SyncError(f"CalDAV PUT {url} answered HTTP {response.status}")
    etag = response.headers.get("ETag") if response.headers else None
    return str(etag) if etag else None


def _store(target: CalendarTarget, user: str, text: str, *, calendar: str, source: str) -> str:
    parsed = parse_ics(text, source)
    if not parsed.components:
        raise InputError(f"the event could not be built: {parsed.failures}")
    for comp in parsed.components:
        target.calendars.upsert(user, comp, calendar=calendar, source=source)
    return parsed.components[0].uid


def create_event(
    target: CalendarTarget,
    user: str,
    *,
    summary: str,
    start: datetime,
    end: datetime,
    location: str = "",
    attendees: list[str] | None = None,
    organizer: str | None = None,
) -> dict[str, Any]:
    """Create an event; returns ``{"uid", "calendar", "source", "caldav"}``."""
    if end <= start:
        raise InputError("the event must end after it starts")
    ev = icalendar.Event()
    uid = f"{uuid.uuid4()}@mailmind"
    ev.add("uid", uid)
    ev.add("dtstamp", datetime.now(UTC))
    ev.add("dtstart", start.astimezone(UTC))
    ev.add("dtend", end.astimezone(UTC))
    ev.add("summary", summary)
    ev.add("sequence", 0)
    if location:
        ev.add("location", location)
    if attendees and organizer:
        ev.add("organizer", icalendar.vCalAddress(f"mailto:{organizer}"))
    for address in attendees or []:
        who = icalendar.vCalAddress(f"mailto:{address}")
        who.params["PARTSTAT"] = "NEEDS-ACTION"
        ev.add("attendee", who)
    text = _wrap(ev.to_ical().decode("utf-8"))
    account = _account(target.settings, user)
    collection = _calendar_collection(target, account.name) if account else None
    if account is not None and collection is not None:
        href = f"{collection[0].rstrip('/')}/{uid.split('@', maxsplit=1)[0]}.ics"
        etag = _put(account, href, text, {"If-None-Match": "*"})
        if target.dav_state is not None:
            target.dav_state.put_item(account.name, collection[0], href, etag)
        source = f"dav:{account.name}:{href}"
        _store(target, user, text, calendar=collection[1], source=source)
        return {"uid": uid, "calendar": collection[1], "source": source, "caldav": href}
    source = f"action:{uid}"
    _store(target, user, text, calendar=LOCAL_CALENDAR, source=source)
    return {"uid": uid, "calendar": LOCAL_CALENDAR, "source": source, "caldav": None}


def _calendar_collection(target: CalendarTarget, account: str) -> tuple[str, str] | None:
    """(url, name) of the account's first synced calendar collection."""
    if target.dav_state is None:
        return None
    for url, col in sorted(target.dav_state.collections(account).items()):
        if col.kind == "calendar":
            return url, col.name
    return None


def rewrite_event(
    target: CalendarTarget, user: str, uid: str, change: Any, *, recurrence_key: str = ""
) -> dict[str, Any]:
    """Apply ``change(vevent)`` to a stored event, bump its SEQUENCE when the time moved, write it
    back to CalDAV when it came from there, then store it. Returns what was written."""
    row = target.calendars.get_component(user, uid, recurrence_key)
    if row is None:
        raise NotFoundError(f"no event {uid!r} in your calendar")
    ev = _vevent(row["ics"])
    moved = change(ev)
    if moved:
        ev["SEQUENCE"] = int(ev.get("SEQUENCE", 0)) + 1
    if "DTSTAMP" in ev:
        del ev["DTSTAMP"]
    ev.add("dtstamp", datetime.now(UTC))
    text = _wrap(ev.to_ical().decode("utf-8"), row["timezones"])
    source: str = row["source"]
    href = None
    if source.startswith("dav:"):
        _, name, href = source.split(":", 2)
        account = _account(target.settings, user, name)
        if account is None:
            raise SyncError(
                f"event {uid} came from CalDAV account {name!r}, which is not configured for "
                "this user: it cannot be written back"
            )
        collection = href.rsplit("/", 1)[0] + "/"
        headers: dict[str, str] = {}
        etag = None
        if target.dav_state is not None:
            etag = target.dav_state.items(account.name, collection).get(href)
        if etag:
            headers["If-Match"] = etag
        new_etag = _put(account, href, text, headers)
        if target.dav_state is not None:
            target.dav_state.put_item(account.name, collection, href, new_etag)
    _store(target, user, text, calendar=row["calendar"], source=source)
    return {"uid": uid, "calendar": row["calendar"], "source": source, "caldav": href}


def update_event(
    target: CalendarTarget,
    user: str,
    uid: str,
    *,
    summary: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    location: str | None = None,
) -> dict[str, Any]:
    """Change an event's title, time or location (only the given fields)."""
    if start is not None and end is not None and end <= start:
        raise InputError("the event must end after it starts")

    def change(ev: Any) -> bool:
        for prop, value in (("SUMMARY", summary), ("LOCATION", location)):
            if value is not None:
                if prop in ev:
                    del ev[prop]
                ev.add(prop.lower(), value)
        if end is not None and "DURATION" in ev:
            del ev["DURATION"]  # DTEND and DURATION must not both be present (RFC 5545)
        for prop, when in (("DTSTART", start), ("DTEND", end)):
            if when is not None:
                if prop in ev:
                    del ev[prop]
                ev.add(prop.lower(), when.astimezone(UTC))
        return start is not None or end is not None

    return rewrite_event(target, user, uid, change)
