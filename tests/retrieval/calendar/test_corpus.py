"""Every third-party calendar file parses or is quarantined with a reason; nothing crashes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.ingest.calendar import ICS_SUFFIXES, JCAL_SUFFIXES, ingest_ics_path
from retrieval.store.calendar import CalendarStore

pytestmark = pytest.mark.integration


def test_every_calendar_file_parses_or_is_quarantined(
    shared_data: Path, store: CalendarStore
) -> None:
    root = shared_data / "calendar"
    report = ingest_ics_path(store, "alice", root)
    files = [p for p in root.rglob("*") if p.suffix.lower() in ICS_SUFFIXES + JCAL_SUFFIXES]
    assert report.files == len(files) > 150
    assert all(reason for _item, reason in report.failures)
    quarantined = {item.split("#")[0] for item, _ in report.failures}
    # Known-broken inputs from the icalendar test suite are quarantined, not crashes.
    for name in ("issue_104_broken_calendar.ics", "parsing_error_in_UTC_offset.ics"):
        assert any(q.endswith(name) for q in quarantined)
    # Non-calendar files are reported as skipped, never parsed as calendars.
    assert any(s.endswith("LICENSE") for s in report.skipped)
    stored = store.count("alice")
    assert stored > 50  # fewer than files: test files reuse UIDs, and UIDs are global
    # The whole corpus can be queried across a wide window without an exception.
    events = store.events_between(
        "alice", datetime(1990, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
    )
    assert len(events) > 1000
    assert all(e.start.tzinfo is not None and e.end >= e.start for e in events)


def test_reingest_is_idempotent(shared_data: Path, store: CalendarStore) -> None:
    folder = shared_data / "calendar" / "vobject_tests"
    first = ingest_ics_path(store, "alice", folder)
    count = store.count("alice")
    second = ingest_ics_path(store, "alice", folder)
    assert store.count("alice") == count
    assert second.counts.get("unchanged", 0) == sum(
        v for k, v in first.counts.items() if k in ("inserted", "updated")
    )
