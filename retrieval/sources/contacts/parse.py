"""vCard 2.1 / 3.0 / 4.0 parsing (vobject) into :class:`Contact`.

Each ``BEGIN:VCARD … END:VCARD`` block is parsed on its own, so one broken card is quarantined
with a reason while the rest of the file is kept.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.types import Contact

_BLOCK = re.compile(r"^BEGIN:VCARD\s*$.*?^END:VCARD\s*$", re.I | re.M | re.S)
_BEGIN = re.compile(r"^BEGIN:VCARD\s*$", re.I | re.M)
_DATE_FORMATS = (
    re.compile(r"^(?P<y>\d{4})-?(?P<m>\d{2})-?(?P<d>\d{2})"),  # 19850415, 1985-04-15, +time
)

Failure = tuple[str, str]


@dataclass(slots=True)
class ParsedCards:
    """Result of :func:`parse_vcf`: ``(contact, raw card)`` pairs and quarantined cards."""

    cards: list[tuple[Contact, str]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def _values(card: Any, name: str) -> list[Any]:
    return [line.value for line in card.contents.get(name, [])]


def _first(card: Any, name: str) -> str:
    for value in _values(card, name):
        joined = ", ".join(str(v) for v in value if v) if isinstance(value, list) else value
        text = str(joined).strip()
        if text:
            return text
    return ""


def _birthday(card: Any) -> date | None:
    for line in card.contents.get("bday", []):
        text = str(line.value).strip()
        match = _DATE_FORMATS[0].match(text)
        if match is None:
            continue  # "--0415" (no year) or free text ("circa 1800"): no usable date
        try:
            return date(int(match["y"]), int(match["m"]), int(match["d"]))
        except ValueError:
            continue
    return None


def _phone(value: Any) -> str:
    text = str(value).strip()
    return text[4:] if text.lower().startswith("tel:") else text


def _nicknames(card: Any) -> list[str]:
    names: list[str] = []
    for value in _values(card, "nickname"):
        items = value if isinstance(value, list) else str(value).split(",")
        names += [str(n).strip() for n in items if str(n).strip()]
    return list(dict.fromkeys(names))


def card_to_contact(card: Any, raw: str) -> Contact:
    """Map a vobject VCARD component to a :class:`Contact` (``source="vcard"``)."""
    given = family = ""
    names = _values(card, "n")
    if names:
        given = str(getattr(names[0], "given", "") or "").strip()
        family = str(getattr(names[0], "family", "") or "").strip()
    emails = [str(v).strip().lower() for v in _values(card, "email") if str(v).strip()]
    org_parts = _values(card, "org")
    organization = ""
    if org_parts:
        value = org_parts[0]
        parts = value if isinstance(value, list) else [value]
        organization = ", ".join(str(p).strip() for p in parts if str(p).strip())
    full_name = _first(card, "fn") or " ".join(p for p in (given, family) if p)
    full_name = full_name or (emails[0] if emails else organization)
    if not full_name:
        raise ValueError("vCard has no name, email or organisation")
    uid = _first(card, "uid") or "vcard-" + hashlib.sha256(raw.encode()).hexdigest()[:24]
    return Contact(
        uid=uid,
        full_name=full_name,
        emails=list(dict.fromkeys(emails)),
        given_name=given,
        family_name=family,
        nicknames=_nicknames(card),
        phones=[_phone(v) for v in _values(card, "tel") if str(v).strip()],
        organization=organization,
        title=_first(card, "title"),
        notes=_first(card, "note"),
        birthday=_birthday(card),
        source="vcard",
    )


def parse_vcf(data: bytes | str, source: str = "<vcf>") -> ParsedCards:
    """Parse every vCard in ``data``; broken cards become ``(source#n, reason)`` failures."""
    import vobject

    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.lstrip("\ufeff")
    result = ParsedCards()
    blocks = [m.group(0) for m in _BLOCK.finditer(text)]
    opened = len(_BEGIN.findall(text))
    if opened > len(blocks):
        # vobject would fail the whole stream; report the unterminated card(s) instead.
        result.failures.append((source, f"{opened - len(blocks)} vCard(s) never closed"))
    if opened == 0:
        result.failures.append((source, "no vCard found"))
    for index, block in enumerate(blocks):
        where = f"{source}#{index}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                card = vobject.readOne(block)
            result.cards.append((card_to_contact(card, block), block))
        except Exception as exc:  # noqa: BLE001 - vobject raises ParseError, ValueError, ... on bad cards
            result.failures.append((where, f"unparseable vCard: {type(exc).__name__}: {exc}"))
    return result
