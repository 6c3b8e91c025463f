"""People seen in mail, merged with vCards by address; fuzzy lookup ranking; isolation."""

from __future__ import annotations

from datetime import UTC, datetime

from core.types import Address
from retrieval.sources.contacts.parse import parse_vcf
from retrieval.sources.contacts.people import people_from_mail
from retrieval.store.contacts import ContactStore

ME = Address("Me", "me@example.com")
BOB = Address("Bob Smith", "bob@example.com")
BOBBY = Address("Bobby Smithers", "bobby@other.example")
CAROL = Address("Carol Jones", "Carol@Acme.example")
D1 = datetime(2024, 1, 1, tzinfo=UTC)
D2 = datetime(2024, 2, 1, tzinfo=UTC)

CARD = """BEGIN:VCARD
VERSION:4.0
FN:Carol Jones
EMAIL:carol@acme.example
ORG:ACME Corp
UID:carol
END:VCARD
"""


def test_people_from_mail_counts_and_names() -> None:
    people = people_from_mail(
        [
            (ME, [BOB, Address("", "BOB@example.com"), CAROL], D1, True),
            (BOB, [ME], D2, False),
            (ME, [BOB], None, True),
        ]
    )
    bob = people["bob@example.com"]
    assert (bob.messages_to, bob.messages_from) == (2, 1)
    assert bob.name == "Bob Smith"
    assert bob.last_contact == D2
    assert "me@example.com" not in people  # the user's own address is never counted


def test_merge_lookup_and_frequency_ranking(store: ContactStore) -> None:
    store.replace_source("u", "file:c.vcf", parse_vcf(CARD).cards)
    for i in range(5):
        assert store.record_mail_people("u", ME, [BOBBY], D1, True, message_id=f"m{i}")
    assert not store.record_mail_people("u", ME, [BOBBY], D1, True, message_id="m0")
    store.record_mail_people("u", BOB, [ME], D2, False, message_id="x1")
    store.record_mail_people("u", CAROL, [ME], D2, False, message_id="x2")

    carol = store.get_by_email("u", "CAROL@acme.example")
    assert carol is not None
    assert carol.source == "merged"
    assert (carol.organization, carol.messages_from, carol.last_contact) == ("ACME Corp", 1, D2)

    # "bob smith" matches Bob Smith best by name...
    hits = store.lookup("u", "bob smith")
    assert hits[0].contact.emails == ["bob@example.com"]
    # ...but for a vague "smith" (equally close to both) the one the user writes to wins.
    hits = store.lookup("u", "smith")
    assert [h.contact.emails[0] for h in hits[:2]] == ["bobby@other.example", "bob@example.com"]
    assert hits[0].contact.messages_to == 5
    # Organisation and email lookups.
    assert store.lookup("u", "acme")[0].contact.full_name == "Carol Jones"
    assert store.lookup("u", "bobby@other.example")[0].matched == "email"
    assert store.lookup("u", "zzzzqqq") == []


def test_users_are_isolated(store: ContactStore) -> None:
    store.replace_source("u", "file:c.vcf", parse_vcf(CARD).cards)
    store.record_mail_people("u", BOB, [ME], D1, False)
    assert store.contacts("other") == []
    assert store.lookup("other", "carol") == []


def test_vcard_removed_from_source(store: ContactStore) -> None:
    store.replace_source("u", "dav:x", parse_vcf(CARD).cards)
    assert store.replace_source("u", "dav:x", []) == {"deleted": 1}
    assert store.get_by_email("u", "carol@acme.example") is None


def test_get_by_email_agrees_with_the_full_listing(store: ContactStore) -> None:
    """The indexed lookup returns what a scan of ``contacts()`` finds, for every address."""
    store.replace_source("u", "file:c.vcf", parse_vcf(CARD).cards)
    store.record_mail_people("u", ME, [BOBBY, CAROL], D1, True, message_id="m1")
    store.record_mail_people("u", BOB, [ME], D2, False, message_id="m2")
    store.record_mail_people("v", BOB, [ME], D2, False, message_id="m3")
    listed = store.contacts("u")
    addresses = {e for c in listed for e in c.emails}
    assert addresses == {"carol@acme.example", "bobby@other.example", "bob@example.com"}
    for address in addresses:
        scanned = next(c for c in listed if address in c.emails)
        assert store.get_by_email("u", address.upper()) == scanned
    assert store.get_by_email("u", "nobody@example.com") is None
    assert store.get_by_email("w", "bob@example.com") is None  # another user's people
