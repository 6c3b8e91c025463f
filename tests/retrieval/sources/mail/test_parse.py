"""Unit tests of the message parser on small synthetic messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import ParseError
from retrieval.sources.mail.parse import (
    decode_header_value,
    normalize_subject,
    parse_date,
    parse_message,
    stable_id,
)

PLAIN = b"""Message-ID: <abc@example.com>
Date: Tue, 10 Nov 2026 09:14:00 -0800
From: =?UTF-8?Q?Jos=C3=A9_Mart=C3=ADnez?= <Jose@Example.COM>
To: "Reyes, Dana" <dana@northwind.example>, bob@example.com
Cc: =?ISO-8859-1?B?SvZyZw==?= <jorg@example.de>
Reply-To: replies@example.com
Subject: =?UTF-8?Q?Re=3A_Caf=C3=A9?= meeting
In-Reply-To: <parent@example.com>
References: <root@example.com> <parent@example.com>
List-Unsubscribe: <mailto:unsub@example.com>
Precedence: bulk
Content-Type: text/plain; charset=utf-8

Sounds good, see you there.

On Mon, Nov 9, 2026 at 10:00 AM Dana <dana@northwind.example> wrote:
> Shall we meet at the caf\xc3\xa9?
"""

HTML_ONLY = b"""Message-ID: <html@example.com>
From: a@example.com
Subject: Weekly digest
Date: Wed, 11 Nov 2026 10:00:00 +0000
Content-Type: text/html; charset=utf-8

<html><body><p>Hello <b>Dana</b>,</p><ul><li>first item</li><li>second item</li></ul></body></html>
"""

MULTIPART = b"""Message-ID: <mp@example.com>
From: a@example.com
To: b@example.com
Subject: Invoice
Date: Wed, 11 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

--XX
Content-Type: multipart/alternative; boundary="YY"

--YY
Content-Type: text/plain; charset=us-ascii

Please find the invoice attached.
--YY
Content-Type: text/html; charset=us-ascii

<p>Please find the <b>invoice</b> attached.</p>
--YY--
--XX
Content-Type: application/pdf; name="invoice.pdf"
Content-Disposition: attachment; filename="invoice.pdf"
Content-Transfer-Encoding: base64
Content-ID: <inv1@example.com>

JVBERi0xLjQKJeLjz9MK
--XX--
"""


def test_plain_message_fields() -> None:
    m = parse_message(PLAIN, folder="INBOX")
    assert m.message_id == "abc@example.com"
    assert m.id == stable_id("abc@example.com")
    assert not m.message_id_synthetic
    assert m.sender is not None
    assert m.sender.name == "José Martínez"
    assert m.sender.email == "jose@example.com"
    assert [a.email for a in m.to] == ["dana@northwind.example", "bob@example.com"]
    assert m.to[0].name == "Reyes, Dana"
    assert m.cc[0].name == "Jörg"
    assert m.reply_to[0].email == "replies@example.com"
    assert m.subject == "Re: Café meeting"
    assert m.normalized_subject == "café meeting"
    assert m.subject_is_reply
    assert m.date == datetime(2026, 11, 10, 17, 14, tzinfo=UTC)
    assert m.date_flag == "ok"
    assert m.in_reply_to == "parent@example.com"
    assert m.references == ["root@example.com", "parent@example.com"]
    assert m.headers["list-unsubscribe"] == "<mailto:unsub@example.com>"
    assert m.headers["precedence"] == "bulk"
    assert "caf\u00e9?" in m.body_text
    assert m.folder == "INBOX"
    assert m.attachments == []


def test_html_only_body_is_converted_by_library() -> None:
    m = parse_message(HTML_ONLY)
    assert m.body_from_html
    assert "<" not in m.body_text
    assert "Hello Dana," in m.body_text
    assert "first item" in m.body_text and "second item" in m.body_text


def test_multipart_prefers_plain_and_lists_attachments() -> None:
    m = parse_message(MULTIPART)
    assert not m.body_from_html
    assert m.body_text.strip() == "Please find the invoice attached."
    assert len(m.attachments) == 1
    att = m.attachments[0]
    assert att.filename == "invoice.pdf"
    assert att.content_type == "application/pdf"
    assert att.size == len(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    assert att.content_id == "inv1@example.com"


def test_missing_message_id_gets_stable_content_hash() -> None:
    raw = b"From: a@example.com\nSubject: hi\n\nbody\n"
    a, b = parse_message(raw), parse_message(raw)
    assert a.message_id_synthetic
    assert a.id == b.id
    assert a.id != parse_message(raw + b"more\n").id


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        (None, "missing"),
        ("", "missing"),
        ("not a date at all", "unparseable"),
        ("Tue, 10 Nov 2026 09:14:00", "naive"),
        ("Tue, 10 Nov 1953 09:14:00 +0000", "implausible"),
        ("Tue, 10 Nov 2026 09:14:00 +0100", "ok"),
    ],
)
def test_dates_are_aware_utc_or_flagged(value: str | None, flag: str) -> None:
    dt, got = parse_date(value)
    assert got == flag
    if dt is not None:
        assert dt.tzinfo is not None and dt.utcoffset() is not None
        assert dt.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("subject", "expected", "is_reply"),
    [
        ("Re: Budget", "budget", True),
        ("RE: re: Fwd: Budget", "budget", True),
        ("AW: SV: Budget", "budget", True),
        ("Re[2]: Budget", "budget", True),
        ("[riak-users] Re: Bucket  delete", "bucket delete", True),
        ("Budget", "budget", False),
        ("Regarding: budget", "regarding: budget", False),
    ],
)
def test_subject_normalisation(subject: str, expected: str, is_reply: bool) -> None:
    assert normalize_subject(subject) == (expected, is_reply)


def test_raw_8bit_headers_are_decoded() -> None:
    raw = "Subject: Grüße aus Köln\nFrom: x@example.com\n\nhallo\n".encode("latin-1")
    m = parse_message(raw)
    assert m.subject == "Grüße aus Köln"
    assert decode_header_value("=?utf-8?q?caf=C3=A9?= au lait") == "café au lait"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty input"),
        (b"   \n\n", "empty input"),
        (b"\x00\x01 just some binary junk without headers", "no RFC 5322 header"),
    ],
)
def test_unparseable_input_raises_parse_error_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_message(raw)


def test_oversized_message_is_rejected() -> None:
    with pytest.raises(ParseError, match="over the"):
        parse_message(PLAIN, max_bytes=100)


def test_single_part_text_sent_as_attachment_keeps_its_text() -> None:
    raw = (
        b"From: a@example.com\nSubject: report\nContent-Type: text/plain\n"
        b"Content-Disposition: attachment; filename=report.txt\n\nThe numbers are in.\n"
    )
    m = parse_message(raw)
    assert m.body_text.strip() == "The numbers are in."
    assert [a.filename for a in m.attachments] == ["report.txt"]


def test_inline_text_around_a_picture_is_all_kept() -> None:
    raw = b"""From: a@example.com
Subject: pic
Content-Type: multipart/mixed; boundary=B

--B
Content-Type: text/plain

Before the picture.
--B
Content-Type: image/png
Content-Disposition: inline; filename=p.png
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--B
Content-Type: text/plain

After the picture: call me at 5.
--B--
"""
    m = parse_message(raw)
    assert "Before the picture." in m.body_text
    assert "After the picture: call me at 5." in m.body_text
    assert [a.content_type for a in m.attachments] == ["image/png"]


def test_multipart_without_its_boundary_is_body_not_attachment() -> None:
    raw = b"From: a@example.com\nSubject: x\nContent-Type: multipart/mixed; boundary=NOPE\n\nhi\n"
    m = parse_message(raw)
    assert m.attachments == []
    assert "hi" in m.body_text


@pytest.mark.integration
def test_address_fast_path_agrees_with_stdlib_on_enron() -> None:
    import email
    import email.utils

    from retrieval.sources.mail.parse import _address_pairs
    from tests.conftest import shared_path

    root = shared_path("mail", "enron_maildir")
    checked = 0
    for f in sorted(p for p in root.rglob("*") if p.is_file())[:1500]:
        head = email.message_from_bytes(f.read_bytes().split(b"\n\n", 1)[0])
        for name in ("from", "to", "cc"):
            for value in head.get_all(name, []):
                assert _address_pairs([value]) == email.utils.getaddresses([value]), value
                checked += 1
    assert checked > 1000
