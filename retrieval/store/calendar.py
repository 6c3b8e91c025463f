"""Persistent calendar store: one row per VEVENT, scoped by user, expanded at query time.

Rows are keyed by ``(user, uid, recurrence_key)``: RFC 5545 UIDs are global, so the same meeting
seen in an ``.ics`` file, on a CalDAV server and in an invitation email is one event. ``source``
records where the current version came from (``file:…``, ``dav:…``, ``mail:…``) so a deleted
server item or a re-read file can drop exactly its rows.
"""

from __future__ import annotations

import sqlite3
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal

from core.errors import InputError
from core.types import Event
from retrieval.sources.calendar.parse import (
    CalendarComponent,
    ParsedCalendar,
    clean_address,
    expand,
    parse_ics,
)
from retrieval.sources.calendar.tz import get_zone
from retrieval.store.migrations import apply_migrations, split_statements
from retrieval.store.pim_sqlite import connect, from_ts, now_ts, ts

#: Migration component name (``schema_versions``).
COMPONENT = "calendar"
_V1 = """
CREATE TABLE IF NOT EXISTS cal_components (
    user TEXT NOT NULL,
    uid TEXT NOT NULL,
    recurrence_key TEXT NOT NULL DEFAULT '',
    calendar TEXT NOT NULL,
    source TEXT NOT NULL,
    ics TEXT NOT NULL,
    timezones TEXT NOT NULL,
    sequence INTEGER NOT NULL DEFAULT 0,
    dtstamp TEXT,
    status TEXT NOT NULL,
    method TEXT,
    message_id TEXT,
    range_start TEXT NOT NULL,
    range_end TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user, uid, recurrence_key)
);
CREATE INDEX IF NOT EXISTS cal_components_range ON cal_components (user, range_start, range_end);
CREATE INDEX IF NOT EXISTS cal_components_source ON cal_components (user, source);
CREATE TABLE IF NOT EXISTS cal_people (
    user TEXT NOT NULL,
    uid TEXT NOT NULL,
    recurrence_key TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    partstat TEXT NOT NULL,
    PRIMARY KEY (user, uid, recurrence_key, email, role)
);
CREATE INDEX IF NOT EXISTS cal_people_email ON cal_people (user, email);
"""
#: Append-only migrations of the calendar tables (see :mod:`retrieval.store.migrations`).
MIGRATIONS: list[list[str]] = [split_statements(_V1)]
SCHEMA_VERSION = len(MIGRATIONS)
#: Tables holding calendar rows, each with a ``user`` column.
USER_TABLES = ("cal_components", "cal_people")

UpsertResult = Literal["inserted", "updated", "unchanged", "stale"]


def _require_user(user: str) -> None:
    if not user:
        raise InputError("a user is required for every calendar query")


class CalendarStore:
    """SQLite-backed calendar for many users; every method takes ``user`` first."""

    def __init__(self, db: str | Path | sqlite3.Connection, *, busy_timeout_s: float = 30.0):
        self.conn = connect(db, busy_timeout_s)
        apply_migrations(self.conn, COMPONENT, MIGRATIONS)

    def close(self) -> None:
        """Close the underlying connection."""
        self.conn.close()

    # -- writes -------------------------------------------------------------------------

    def upsert(
        self,
        user: str,
        comp: CalendarComponent,
        *,
        calendar: str,
        source: str,
        message_id: str | None = None,
        authoritative: bool = True,
    ) -> UpsertResult:
        """Insert or replace one component.

        ``authoritative`` sources (files, CalDAV) always win. Scheduling messages are not: an
        older invitation (lower SEQUENCE, or same SEQUENCE and older DTSTAMP, RFC 5546 2.1.5)
        arriving after a newer one is ``"stale"`` and ignored.
        """
        _require_user(user)
        if comp.range_start is None:
            raise InputError(f"event {comp.uid} has no DTSTART and cannot be stored")
        row = self.conn.execute(
            "SELECT sequence, dtstamp, ics, source FROM cal_components "
            "WHERE user = ? AND uid = ? AND recurrence_key = ?",
            (user, comp.uid, comp.recurrence_key),
        ).fetchone()
        if row is not None:
            if row["ics"] == comp.ics and row["source"] == source:
                return "unchanged"
            if not authoritative and (comp.sequence, ts(comp.dtstamp) or "") < (
                row["sequence"],
                row["dtstamp"] or "",
            ):
                return "stale"
        with self.conn:
            self._write(user, comp, calendar, source, message_id)
        return "inserted" if row is None else "updated"

    def _write(
        self,
        user: str,
        comp: CalendarComponent,
        calendar: str,
        source: str,
        message_id: str | None,
    ) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO cal_components (user, uid, recurrence_key, calendar, source,"
            " ics, timezones, sequence, dtstamp, status, method, message_id, range_start,"
            " range_end, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                user,
                comp.uid,
                comp.recurrence_key,
                calendar,
                source,
                comp.ics,
                comp.timezones,
                comp.sequence,
                ts(comp.dtstamp),
                comp.status,
                comp.method,
                message_id,
                ts(comp.range_start),
                ts(comp.range_end),
                now_ts(),
            ),
        )
        self.conn.execute(
            "DELETE FROM cal_people WHERE user = ? AND uid = ? AND recurrence_key = ?",
            (user, comp.uid, comp.recurrence_key),
        )
        people = [(comp.organizer, "ORGANIZER", "ACCEPTED")] if comp.organizer else []
        people += [(a.email, "ATTENDEE", a.partstat) for a in comp.attendees if a.email]
        self.conn.executemany(
            "INSERT OR REPLACE INTO cal_people (user, uid, recurrence_key, email, role, partstat)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(user, comp.uid, comp.recurrence_key, e, r, p) for e, r, p in people],
        )

    def replace_source(
        self,
        user: str,
        source: str,
        components: Sequence[CalendarComponent],
        *,
        calendar: str,
    ) -> dict[str, int]:
        """Make ``source`` hold exactly ``components`` (a re-read file or a changed DAV item)."""
        _require_user(user)
        counts: dict[str, int] = defaultdict(int)
        keep = {(c.uid, c.recurrence_key) for c in components}
        old = self.conn.execute(
            "SELECT uid, recurrence_key FROM cal_components WHERE user = ? AND source = ?",
            (user, source),
        ).fetchall()
        with self.conn:
            for r in old:
                if (r["uid"], r["recurrence_key"]) not in keep:
                    self._delete(user, r["uid"], r["recurrence_key"])
                    counts["deleted"] += 1
        for comp in components:
            counts[self.upsert(user, comp, calendar=calendar, source=source)] += 1
        return dict(counts)

    def delete_source(self, user: str, source: str) -> int:
        """Remove every component whose current version came from ``source``."""
        _require_user(user)
        rows = self.conn.execute(
            "SELECT uid, recurrence_key FROM cal_components WHERE user = ? AND source = ?",
            (user, source),
        ).fetchall()
        with self.conn:
            for r in rows:
                self._delete(user, r["uid"], r["recurrence_key"])
        return len(rows)

    def delete_user(self, user: str) -> dict[str, int]:
        """Remove every calendar row of ``user``; rows removed per table."""
        _require_user(user)
        counts: dict[str, int] = {}
        with self.conn:
            for table in USER_TABLES:
                cur = self.conn.execute(f"DELETE FROM {table} WHERE user = ?", (user,))
                counts[table] = cur.rowcount
        return counts

    def _delete(self, user: str, uid: str, key: str) -> None:
        for table in ("cal_components", "cal_people"):
            self.conn.execute(
                f"DELETE FROM {table} WHERE user = ? AND uid = ? AND recurrence_key = ?",
                (user, uid, key),
            )

    def apply_scheduling(
        self,
        user: str,
        parsed: ParsedCalendar,
        *,
        message_id: str | None,
        calendar: str = "invitations",
    ) -> dict[str, int]:
        """Apply an iTIP message (RFC 5546) found in an email.

        - REQUEST / PUBLISH / ADD: store the event unless a newer version is already known.
        - CANCEL: a whole series (no RECURRENCE-ID) gets STATUS:CANCELLED on every row; one
          occurrence is cancelled on its override, or removed from the series with an EXDATE.
        - REPLY: the replying attendee's PARTSTAT is updated on the stored event (the override
          when one is stored, else the series); a REPLY for an unknown event is ``unmatched``.
        """
        _require_user(user)
        method = (parsed.method or "PUBLISH").upper()
        counts: dict[str, int] = defaultdict(int)
        source = f"mail:{message_id}" if message_id else "mail"
        for comp in parsed.components:
            if method == "CANCEL":
                counts[self._cancel(user, comp)] += 1
            elif method == "REPLY":
                counts[self._reply(user, comp)] += 1
            elif comp.range_start is not None:
                result = self.upsert(
                    user,
                    comp,
                    calendar=calendar,
                    source=source,
                    message_id=message_id,
                    authoritative=False,
                )
                counts[result] += 1
        return dict(counts)

    def _stored(self, user: str, uid: str, key: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT ics, timezones, calendar, source, message_id, sequence FROM cal_components"
            " WHERE user = ? AND uid = ? AND recurrence_key = ?",
            (user, uid, key),
        ).fetchone()
        return row

    def _rewrite(self, user: str, uid: str, key: str, vevent: Any, row: sqlite3.Row) -> None:
        from retrieval.sources.calendar.parse import parse_ics as _parse

        text = vevent.to_ical().decode("utf-8", errors="replace")
        reparsed = _parse(f"BEGIN:VCALENDAR\r\n{row['timezones']}{text}END:VCALENDAR\r\n", "stored")
        if not reparsed.components:
            return
        comp = reparsed.components[0]
        with self.conn:
            self._write(user, comp, row["calendar"], row["source"], row["message_id"])

    def _cancel(self, user: str, comp: CalendarComponent) -> str:
        series = self._stored(user, comp.uid, "")
        key = comp.recurrence_key
        override = self._stored(user, comp.uid, key) if key else None
        if comp.recurrence_key == "":
            rows = self.conn.execute(
                "SELECT recurrence_key FROM cal_components WHERE user = ? AND uid = ?",
                (user, comp.uid),
            ).fetchall()
            if not rows:
                return "unmatched"
            for r in rows:
                key = r["recurrence_key"]
                row = self._stored(user, comp.uid, key)
                assert row is not None
                vevent = _vevent(row["ics"])
                vevent["STATUS"] = "CANCELLED"
                self._rewrite(user, comp.uid, key, vevent, row)
            return "cancelled"
        if override is not None:
            vevent = _vevent(override["ics"])
            vevent["STATUS"] = "CANCELLED"
            self._rewrite(user, comp.uid, comp.recurrence_key, vevent, override)
            return "cancelled"
        if series is not None:
            vevent = _vevent(series["ics"])
            cancel = _vevent(comp.ics)
            rid = cancel.get("RECURRENCE-ID")
            if rid is not None:
                vevent.add("EXDATE", rid.dt)
                self._rewrite(user, comp.uid, "", vevent, series)
                return "cancelled"
        return "unmatched"

    def _reply(self, user: str, comp: CalendarComponent) -> str:
        row = self._stored(user, comp.uid, comp.recurrence_key)
        key = comp.recurrence_key
        if row is None:
            row, key = self._stored(user, comp.uid, ""), ""
        if row is None:
            return "unmatched"
        vevent = _vevent(row["ics"])
        replies = {a.email: a.partstat for a in comp.attendees}
        changed = False
        attendees = vevent.get("ATTENDEE")
        for att in attendees if isinstance(attendees, list) else [attendees]:
            if att is None:
                continue
            email = clean_address(att)
            if email in replies:
                att.params["PARTSTAT"] = replies[email]
                changed = True
        if not changed:
            return "unmatched"
        self._rewrite(user, comp.uid, key, vevent, row)
        return "replied"

    # -- queries ------------------------------------------------------------------------

    def events_between(
        self,
        user: str,
        start: datetime,
        end: datetime,
        *,
        tz: str | tzinfo | None = None,
        calendar: str | None = None,
        include_cancelled: bool = True,
        uids: Iterable[str] | None = None,
    ) -> list[Event]:
        """Occurrences overlapping ``[start, end)``, recurrence expanded, sorted by start.

        Floating and all-day times are placed in ``tz`` (the user's zone, default UTC).
        """
        _require_user(user)
        if start.tzinfo is None or end.tzinfo is None:
            raise InputError("query window bounds must be timezone-aware datetimes")
        zone = get_zone(tz)
        sql = (
            "SELECT DISTINCT uid FROM cal_components WHERE user = ? AND range_start < ?"
            " AND (range_end IS NULL OR range_end > ?)"
        )
        params: list[Any] = [user, ts(end), ts(start)]
        if calendar is not None:
            sql += " AND calendar = ?"
            params.append(calendar)
        wanted = [r["uid"] for r in self.conn.execute(sql, params)]
        if uids is not None:
            allowed = set(uids)
            wanted = [u for u in wanted if u in allowed]
        events: list[Event] = []
        for uid in wanted:
            rows = self.conn.execute(
                "SELECT uid, recurrence_key, ics, timezones, calendar, message_id, method"
                " FROM cal_components WHERE user = ? AND uid = ?",
                (user, uid),
            ).fetchall()
            comps = [
                CalendarComponent(
                    uid=r["uid"], recurrence_key=r["recurrence_key"], ics=r["ics"],
                    timezones=r["timezones"],
                )
                for r in rows
            ]  # fmt: skip
            master = next((r for r in rows if r["recurrence_key"] == ""), rows[0])
            for event in expand(comps, start, end, zone, calendar=master["calendar"]):
                event.message_id = master["message_id"]
                event.method = master["method"]
                events.append(event)
        if not include_cancelled:
            events = [e for e in events if e.status != "CANCELLED"]
        events.sort(key=lambda e: (e.start, e.uid))
        return events

    def uids_with_people(self, user: str, emails: Iterable[str]) -> dict[str, set[str]]:
        """``{email: {uid, ...}}`` of events where each address is organizer or attendee."""
        _require_user(user)
        result: dict[str, set[str]] = {}
        for email in emails:
            rows = self.conn.execute(
                "SELECT DISTINCT uid FROM cal_people WHERE user = ? AND email = ?",
                (user, clean_address(email)),
            )
            result[clean_address(email)] = {r["uid"] for r in rows}
        return result

    def get_component(self, user: str, uid: str, recurrence_key: str = "") -> dict[str, Any] | None:
        """One stored component (``ics``, ``timezones``, ``calendar``, ``source``, ``sequence``,
        ``method``), or ``None``; used to write an event back where it came from."""
        _require_user(user)
        row = self.conn.execute(
            "SELECT uid, recurrence_key, ics, timezones, calendar, source, sequence, method"
            " FROM cal_components WHERE user = ? AND uid = ? AND recurrence_key = ?",
            (user, uid, recurrence_key),
        ).fetchone()
        return dict(row) if row is not None else None

    def count(self, user: str) -> int:
        """Number of stored components (masters + overrides) for ``user``."""
        _require_user(user)
        row = self.conn.execute(
            "SELECT COUNT(*) AS n FROM cal_components WHERE user = ?", (user,)
        ).fetchone()
        return int(row["n"])

    def last_updated(self, user: str) -> datetime | None:
        """When this user's calendar last changed (UTC)."""
        row = self.conn.execute(
            "SELECT MAX(updated_at) AS last FROM cal_components WHERE user = ?", (user,)
        ).fetchone()
        return from_ts(row["last"]) if row else None


def _vevent(ics: str) -> Any:
    import icalendar

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return icalendar.Event.from_ical(ics)


def ingest_ics_bytes(
    store: CalendarStore, user: str, data: bytes, *, source: str, calendar: str
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Parse and store one iCalendar document; returns (counts, failures)."""
    parsed = parse_ics(data, source)
    counts = store.replace_source(user, source, parsed.components, calendar=calendar)
    return counts, parsed.failures
