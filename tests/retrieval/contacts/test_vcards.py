"""vCard parsing: the third-party corpus, vCard 3.0 and 4.0 fields, quarantine."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from retrieval.ingest.contacts import ingest_vcf_path
from retrieval.sources.contacts.parse import parse_vcf
from retrieval.store.contacts import ContactStore


@pytest.mark.integration
def test_every_vcf_parses_or_is_quarantined(shared_data: Path, store: ContactStore) -> None:
    paths = [shared_data / "contacts", shared_data / "calendar" / "vobject_tests"]
    failures = []
    files = 0
    for path in paths:
        report = ingest_vcf_path(store, "alice", path)
        files += report.files
        failures += report.failures
    assert files == len(list((shared_data / "contacts").rglob("*.vcf"))) + len(
        list((shared_data / "calendar" / "vobject_tests").glob("*.vcf"))
    )
    assert all(reason for _, reason in failures)
    assert any(item.endswith("unparsable.vcf") for item, _ in failures)
    contacts = {c.full_name: c for c in store.contacts("alice")}
    assert len(contacts) > 20
    # vcard40_full.vcf shares its UID with vcard40_simple.vcf (read later), so parse it alone.
    full = parse_vcf((shared_data / "calendar/vobject_tests/vcard40_full.vcf").read_bytes())
    ((john, _raw),) = full.cards
    assert john.emails == ["john.public@example.com", "johnny@personal.example.org"]
    assert john.phones == ["+1-555-555-5555", "+1-555-123-4567"]
    assert john.organization == "Example Corp., North Division, Marketing"
    assert john.title == "CEO"
    assert john.birthday == date(1985, 4, 15)
    assert john.notes.startswith("This is a note about John.")
    assert (john.given_name, john.family_name) == ("John", "Public")
    assert "Johnny" in john.nicknames
    # vCard 3.0 card without FN gets its name from N; a text birthday is not a date.
    assert contacts["Michael Smith"].nicknames == ["Mike"]
    assert contacts["text birthday"].birthday is None


VCARD3 = """BEGIN:VCARD
VERSION:3.0
FN:Jane Roe
N:Roe;Jane;;;
EMAIL;TYPE=INTERNET:Jane.Roe@Example.org
TEL;TYPE=CELL:+49 170 1234567
ORG:Roe Consulting;Research
TITLE:Principal
BDAY:1990-02-03
NOTE:Met at PyCon
UID:jane-1
END:VCARD
BEGIN:VCARD
VERSION:3.0
N:;;;;
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Broken
"""


def test_vcard3_fields_and_per_card_quarantine() -> None:
    parsed = parse_vcf(VCARD3, "x.vcf")
    ((jane, raw),) = parsed.cards
    assert raw.startswith("BEGIN:VCARD")
    assert jane.uid == "jane-1"
    assert jane.emails == ["jane.roe@example.org"]
    assert jane.phones == ["+49 170 1234567"]
    assert jane.organization == "Roe Consulting, Research"
    assert jane.birthday == date(1990, 2, 3)
    reasons = dict(parsed.failures)
    assert "never closed" in reasons["x.vcf"]
    assert "no name" in reasons["x.vcf#1"]


def test_not_a_vcard() -> None:
    assert parse_vcf(b"hello", "h.vcf").failures == [("h.vcf", "no vCard found")]
