"""CalDAV/CardDAV sync against a real Radicale: created, changed and deleted items follow."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from core.settings import DavAccount
from retrieval.sources.sync.dav import DavState, sync_dav_account
from retrieval.store.calendar import CalendarStore
from retrieval.store.contacts import ContactStore
from tests.retrieval.sources.sync.servers import Radicale

pytestmark = [pytest.mark.server, pytest.mark.integration]

AUTH = ("alice", "pw")
JUNE = (datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC))
MKCOL_ADDRESSBOOK = """<?xml version="1.0" encoding="utf-8"?>
<d:mkcol xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav">
  <d:set><d:prop>
    <d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype>
    <d:displayname>Friends</d:displayname>
  </d:prop></d:set>
</d:mkcol>"""
MKCALENDAR = """<?xml version="1.0" encoding="utf-8"?>
<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:set><d:prop><d:displayname>Work</d:displayname></d:prop></d:set>
</c:mkcalendar>"""


def _event(uid: str, summary: str, day: int) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:202406{day:02d}T090000Z\r\n"
        f"DTEND:202406{day:02d}T100000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _card(uid: str, name: str, email: str) -> str:
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\n"
        f"EMAIL:{email}\r\nEND:VCARD\r\n"
    )


@pytest.fixture
def dav(radicale: Radicale) -> httpx.Client:
    client = httpx.Client(base_url=radicale.url, auth=AUTH, timeout=10)
    client.request("PROPFIND", "/alice/", headers={"Depth": "0"})  # creates the principal
    assert client.request("MKCALENDAR", "/alice/work/", content=MKCALENDAR).status_code == 201
    created = client.request("MKCOL", "/alice/friends/", content=MKCOL_ADDRESSBOOK)
    assert created.status_code == 201
    return client


def _put(client: httpx.Client, path: str, body: str, ctype: str) -> None:
    response = client.put(path, content=body, headers={"Content-Type": ctype})
    assert response.status_code in (201, 204), response.text


def test_events_and_contacts_follow_the_server(
    radicale: Radicale, dav: httpx.Client, tmp_path: Path
) -> None:
    ics, vcf = "text/calendar", "text/vcard"
    _put(dav, "/alice/work/a.ics", _event("a@test", "Alpha", 3), ics)
    _put(dav, "/alice/work/b.ics", _event("b@test", "Beta", 4), ics)
    _put(dav, "/alice/friends/c.vcf", _card("c1", "Carol Jones", "carol@example.com"), vcf)

    account = DavAccount(
        name="radicale", user="alice", url=radicale.url, username="alice", password=SecretStr("pw")
    )
    db = tmp_path / "pim.sqlite3"
    state, calendars, contacts = DavState(db), CalendarStore(db), ContactStore(db)

    def sync():  # type: ignore[no-untyped-def]
        report = sync_dav_account(account, state, calendars, contacts)
        assert report.errors == []
        return {c.name: c for c in report.collections}

    first = sync()
    assert (first["Work"].changed, first["Friends"].changed) == (2, 1)
    events = calendars.events_between("alice", *JUNE)
    assert [(e.summary, e.calendar) for e in events] == [("Alpha", "Work"), ("Beta", "Work")]
    assert contacts.lookup("alice", "carol")[0].contact.emails == ["carol@example.com"]

    # Nothing changed: the collections are skipped by ctag / sync-token.
    assert {c.mode for c in sync().values()} == {"unchanged"}

    # Change one event, delete another, create a third; change and add contacts.
    _put(dav, "/alice/work/a.ics", _event("a@test", "Alpha moved", 10), ics)
    assert dav.delete("/alice/work/b.ics").status_code in (200, 204)
    _put(dav, "/alice/work/c.ics", _event("c@test", "Gamma", 5), ics)
    _put(dav, "/alice/friends/c.vcf", _card("c1", "Carol Smith", "carol@example.com"), vcf)
    _put(dav, "/alice/friends/d.vcf", _card("d1", "Dan Brown", "dan@example.com"), vcf)
    second = sync()
    assert second["Work"].mode == "sync-token"
    assert (second["Work"].changed, second["Work"].deleted) == (2, 1)
    events = calendars.events_between("alice", *JUNE)
    assert [(e.summary, e.start.day) for e in events] == [("Gamma", 5), ("Alpha moved", 10)]
    names = sorted(c.full_name for c in contacts.contacts("alice"))
    assert names == ["Carol Smith", "Dan Brown"]

    # A whole address book disappears: its contacts go too.
    assert dav.delete("/alice/friends/").status_code in (200, 204)
    third = sync()
    assert third["Friends"].mode == "removed" and third["Friends"].deleted == 2
    assert contacts.contacts("alice") == []


def test_expired_sync_token_falls_back_to_etags(
    radicale: Radicale, dav: httpx.Client, tmp_path: Path
) -> None:
    _put(dav, "/alice/work/a.ics", _event("a@test", "Alpha", 3), "text/calendar")
    account = DavAccount(
        name="r", user="alice", url=radicale.url, username="alice", password=SecretStr("pw")
    )
    db = tmp_path / "pim.sqlite3"
    state, calendars, contacts = DavState(db), CalendarStore(db), ContactStore(db)
    sync_dav_account(account, state, calendars, contacts)
    # Corrupt the stored token as if the server had forgotten it.
    state.conn.execute("UPDATE dav_collections SET sync_token = 'http://x/bogus', ctag = NULL")
    state.conn.commit()
    _put(dav, "/alice/work/b.ics", _event("b@test", "Beta", 4), "text/calendar")
    report = sync_dav_account(account, state, calendars, contacts)
    work = next(c for c in report.collections if c.name == "Work")
    assert work.mode == "etag" and work.changed == 1
    assert len(calendars.events_between("alice", *JUNE)) == 2
