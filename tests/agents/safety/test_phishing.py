"""The phishing signal: every corpus mail is a likely phish; honest mail (the demo mailbox, a
sample of Enron inboxes) scores below the threshold. The rates are printed (``pytest -s``)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agents.safety.phishing import (
    THRESHOLD,
    assess,
    frequent_domains,
    lookalike_of,
    registrable,
)
from core.settings import REPO_ROOT
from core.types import Message
from retrieval.sources.mail.parse import parse_message
from tests.agents.safety.conftest import CASES, DEMO_DOMAINS, Case
from tests.conftest import shared_path

#: The demo mail planted as a prompt injection (demo/README.md, thread T16).
DEMO_INJECTION = "CADn7q2Y8kP4.partnerships@cascade-distribution.example"


def _parse_all(paths: list[Path]) -> list[Message]:
    return [parse_message(p.read_bytes()) for p in paths if p.is_file() and p.stat().st_size]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_corpus_mail_is_a_likely_phish_with_reasons(case: Case) -> None:
    signal = assess(case.message, known_domains=DEMO_DOMAINS, html=case.html)
    assert signal.likely_phish and signal.score >= THRESHOLD
    assert signal.reasons


def test_detection_rate_on_the_corpus() -> None:
    flagged = [
        assess(c.message, known_domains=DEMO_DOMAINS, html=c.html).likely_phish for c in CASES
    ]
    print(f"\nphishing detection rate: {sum(flagged)}/{len(flagged)}")
    assert all(flagged)


def test_demo_mailbox_scores_below_threshold_except_the_planted_injection() -> None:
    messages = _parse_all(sorted((REPO_ROOT / "demo" / "mail").rglob("*")))
    known = frequent_domains(messages)
    flagged = {m.message_id for m in messages if assess(m, known_domains=known).likely_phish}
    honest = len(messages) - 1
    print(f"\ndemo false positives: {len(flagged - {DEMO_INJECTION})}/{honest}")
    assert flagged == {DEMO_INJECTION}


@pytest.mark.integration
@pytest.mark.slow
def test_enron_inbox_false_positive_rate_is_low() -> None:
    root = shared_path("mail", "enron_maildir")
    files = sorted(p for p in root.glob("*/inbox/**/*") if p.is_file())
    random.Random(13).shuffle(files)
    messages = _parse_all(files[:1500])
    known = frequent_domains(messages)
    flagged = [m for m in messages if assess(m, known_domains=known).likely_phish]
    rate = len(flagged) / max(1, len(messages))
    print(f"\nEnron inbox false positives: {len(flagged)}/{len(messages)} ({rate:.2%})")
    assert len(messages) >= 500
    assert rate <= 0.01


def test_features_fire_on_their_own() -> None:
    assert registrable("mail.corp.example.co.uk") == "example.co.uk"
    assert lookalike_of("paypa1.com", {"paypal.com"}) == "paypal.com"
    assert lookalike_of("rnicrosoft.com", {"microsoft.com"}) == "microsoft.com"
    assert lookalike_of("paypal.com.secure-login.example", {"paypal.com"}) == "paypal.com"
    assert lookalike_of("paypal.com", {"paypal.com"}) is None
    assert lookalike_of("aldercreek-water.example", DEMO_DOMAINS) is None
