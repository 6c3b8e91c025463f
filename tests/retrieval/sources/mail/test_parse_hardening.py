"""Undecodable header bytes must never move an address into the display name (issue 11)."""

from __future__ import annotations

import pytest

from retrieval.sources.mail.parse import parse_addresses, parse_message

_BAD_FROM = b"From: \xff\xfe Bad \xc3\x28 <bad@x.example>\r\n"


def _raw(from_line: bytes) -> bytes:
    return (
        from_line + b"To: me@y.example\r\nSubject: hi\r\nMessage-ID: <bad-1@x.example>\r\n"
        b"Date: Tue, 10 Nov 2026 10:00:00 +0000\r\n\r\nbody\r\n"
    )


def test_raw_8bit_from_keeps_its_address() -> None:
    msg = parse_message(_raw(_BAD_FROM))
    assert msg.sender is not None
    assert msg.sender.email == "bad@x.example"
    # The address must not end up in the name (it was stored as name "<bad@x.example>").
    assert "@" not in msg.sender.name
    assert "<" not in msg.sender.name


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"Unclosed <a@x.example>, b@y.example', ["a@x.example", "b@y.example"]),
        ("Stray ( paren <a@x.example>", ["a@x.example"]),
        ("Fine Name <a@x.example>, Other (comment) <b@y.example>", ["a@x.example", "b@y.example"]),
    ],
)
def test_stray_quote_or_paren_keeps_every_angle_address(value: str, expected: list[str]) -> None:
    assert [a.email for a in parse_addresses([value])] == expected


def test_raw_8bit_to_list_keeps_all_addresses() -> None:
    raw = _raw(_BAD_FROM).replace(
        b"To: me@y.example", b"To: \xc3\x28 One <one@y.example>, two@y.example"
    )
    msg = parse_message(raw)
    assert [a.email for a in msg.to] == ["one@y.example", "two@y.example"]
