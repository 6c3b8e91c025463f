"""IMAP and DAV sync state round-trips on both store backends (keyed by account, not user)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.settings import Settings
from retrieval.sources.sync.dav import DavCollection
from retrieval.store.pim import PimStores, open_pim


@pytest.fixture
def pim(backend_settings: Settings) -> Iterator[PimStores]:
    stores = open_pim(backend_settings)
    yield stores
    stores.close()


def test_imap_state_records_replaces_and_drops(pim: PimStores) -> None:
    state = pim.imap_state
    assert state.folder("work", "INBOX") is None
    state.set_folder("work", "INBOX", 7, 10, None)
    state.set_folder("work", "INBOX", 7, 12, 99)  # replaced, not duplicated
    assert state.folder("work", "INBOX") == (7, 12, 99)
    state.put_messages("work", "INBOX", [(1, ("\\Seen",)), (2, ()), (3, ("\\Flagged", "x"))])
    state.put_messages("work", "INBOX", [(2, ("\\Seen",))])
    state.put_messages("home", "INBOX", [(1, ())])
    assert state.known("work", "INBOX") == {1: ("\\Seen",), 2: ("\\Seen",), 3: ("\\Flagged", "x")}
    state.drop_messages("work", "INBOX", [1, 3])
    assert state.known("work", "INBOX") == {2: ("\\Seen",)}
    state.drop_messages("work", "INBOX")
    assert state.known("work", "INBOX") == {} and state.known("home", "INBOX") == {1: ()}


def test_dav_state_records_replaces_and_drops(pim: PimStores) -> None:
    state = pim.dav_state
    cal = DavCollection("https://dav.example/cal/", "calendar", "Work", ctag="c1")
    state.save_collection("dav", cal)
    state.save_collection("dav", DavCollection(cal.url, "calendar", "Work", "c2", "tok-2"))
    assert state.collections("dav") == {
        cal.url: DavCollection(cal.url, "calendar", "Work", "c2", "tok-2")
    }
    state.put_item("dav", cal.url, "/cal/1.ics", "e1")
    state.put_item("dav", cal.url, "/cal/1.ics", "e2")
    state.put_item("dav", cal.url, "/cal/2.ics", None)
    assert state.items("dav", cal.url) == {"/cal/1.ics": "e2", "/cal/2.ics": None}
    state.drop_item("dav", cal.url, "/cal/2.ics")
    assert state.items("dav", cal.url) == {"/cal/1.ics": "e2"}
    state.drop_collection("dav", cal.url)
    assert state.collections("dav") == {} and state.items("dav", cal.url) == {}
