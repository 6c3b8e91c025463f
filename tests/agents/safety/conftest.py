"""The malicious-mail corpus: parsed messages, their HTML parts and the expected forms."""

from __future__ import annotations

import email
from dataclasses import dataclass
from email import policy
from pathlib import Path

import pytest
import yaml

from core.types import Message
from retrieval.sources.mail.parse import parse_message

CORPUS = Path(__file__).resolve().parent / "corpus"
#: The demo user's correspondents' domains (what look-alike senders imitate).
DEMO_DOMAINS = frozenset({"northwind.example", "aldercreek-water.example"})


@dataclass(frozen=True)
class Case:
    """One corpus mail."""

    name: str
    message: Message
    html: str | None
    expected: str
    findings: frozenset[str]


def load_cases() -> list[Case]:
    """Every ``corpus/*.eml`` with its manifest entry and expected neutralised text."""
    manifest = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
    cases = []
    for path in sorted(CORPUS.glob("*.eml")):
        raw = path.read_bytes()
        part = email.message_from_bytes(raw, policy=policy.default).get_body(("html",))
        html = part.get_content() if part is not None else None  # type: ignore[attr-defined]
        expected = path.with_suffix(".expected.txt").read_text(encoding="utf-8")
        cases.append(
            Case(
                name=path.stem,
                message=parse_message(raw),
                html=html,
                expected=expected.rstrip("\n"),
                findings=frozenset(manifest[path.stem]["findings"]),
            )
        )
    return cases


CASES = load_cases()


@pytest.fixture(scope="session")
def cases() -> dict[str, Case]:
    """The corpus by name."""
    return {c.name: c for c in CASES}
