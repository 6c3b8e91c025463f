"""The Services composition: one ingest feeds mail, people seen in mail and invitations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.services import Services
from core.settings import REPO_ROOT
from retrieval.ingest.hooks import is_sent_folder
from retrieval.sources.mail.parse import parse_message

DEMO = REPO_ROOT / "demo"
INVITE = next(
    p
    for p in sorted((DEMO / "mail").rglob("*"))
    if p.is_file() and b"text/calendar" in p.read_bytes()
)


def test_mail_ingest_feeds_contacts_and_calendar(services: Services) -> None:
    report = services.ingest_path("demo", DEMO / "mail", index=False)
    assert report["added"] > 40 and report["quarantined"] == 0
    contacts = services.pim.contacts
    people = {c.emails[0]: c for c in contacts.contacts("demo") if c.emails}
    # Every sender of received mail is a person seen in mail, with their message count (the
    # user's own address, the sender of sent mail, is not a contact).
    senders = [
        m.sender.email
        for m in services.store.iter_messages("demo")
        if m.sender and not is_sent_folder(m.folder)
    ]
    own = {
        m.sender.email
        for m in services.store.iter_messages("demo")
        if is_sent_folder(m.folder) and m.sender
    }
    assert own and not own & set(people)
    for email in set(senders):
        assert people[email].messages_from + people[email].messages_to >= 1
    # The invitation attached to mail became a calendar event linked to its message.
    invite_id = parse_message(INVITE.read_bytes()).id
    events = services.pim.calendars.events_between(
        "demo", datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    linked = [e for e in events if e.message_id == invite_id]
    assert linked and linked[0].method == "REQUEST"
    # Re-ingesting counts nobody twice.
    before = {c.uid: (c.messages_from, c.messages_to) for c in contacts.contacts("demo")}
    services.ingest_path("demo", DEMO / "mail", index=False)
    assert {c.uid: (c.messages_from, c.messages_to) for c in contacts.contacts("demo")} == before


def test_ingest_routes_calendars_and_contacts(services: Services) -> None:
    cal = services.ingest_path("demo", DEMO / "calendar" / "dana.ics")
    assert cal["format"] == "ics" and cal["files"] == 1 and not cal["failures"]
    cards = services.ingest_path("demo", DEMO / "contacts")
    assert cards["format"] == "pim" and cards["contacts"]["files"] == len(
        list((DEMO / "contacts").glob("*.vcf"))
    )
    assert services.store.stats("demo").sources == 0  # no mail source was recorded
    hits = services.pim.contacts.lookup("demo", "Jose Martinez")
    assert hits and "jose" in hits[0].contact.emails[0]


def test_sent_folder_detection() -> None:
    for folder in (".Sent", "allen-p/_sent_mail", "allen-p/sent_items", "Sent Items", "sent"):
        assert is_sent_folder(folder), folder
    for folder in (None, "inbox", "allen-p/all_documents", "consent"):
        assert not is_sent_folder(folder), folder


def test_bulk_index_optimises_the_shard(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retrieval.index.embeddings import HashEmbedder

    monkeypatch.setattr(type(services), "embedder", HashEmbedder(dim=384), raising=False)
    services.ingest_path("demo", DEMO / "mail", index=False)
    calls: list[int] = []
    real = services.index.optimize

    def spy() -> None:
        calls.append(1)
        real()

    monkeypatch.setattr(services.index, "optimize", spy)
    monkeypatch.setattr("retrieval.index.indexer.OPTIMIZE_AFTER", 40)
    first = services.index_user("demo")  # 47 messages: a bulk load
    assert first["embedded"] > 40 and calls == [1]
    again = services.index_user("demo")  # nothing changed: no optimise
    assert again["embedded"] == 0 and calls == [1]
