"""Server fixtures for sync tests (marker ``server``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import REPO_ROOT
from tests.retrieval.sources.sync.servers import Dovecot, Radicale, run_dovecot, run_radicale

LKML = REPO_ROOT.parent / "shared" / "data" / "mail" / "notmuch_corpora" / "lkml" / "cur"


@pytest.fixture
def seed_messages() -> list[Path]:
    """Twelve real list messages from a Maildir (notmuch's lkml corpus)."""
    if not LKML.is_dir():
        pytest.skip(f"shared mail corpus {LKML} is absent")
    return sorted(LKML.iterdir())[:12]


@pytest.fixture
def dovecot(seed_messages: list[Path]) -> Iterator[Dovecot]:
    """A Dovecot IMAP server on 127.0.0.1 whose INBOX holds ``seed_messages``."""
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        # `make test` installs it: in CI a missing server is a broken install, not a skip.
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed although `make test` installs it")
        pytest.skip("dovecot is not installed: run scripts/install-test-servers.sh")
    with run_dovecot(seed_messages) as server:
        yield server


@pytest.fixture
def dovecot_tls(seed_messages: list[Path]) -> Iterator[Dovecot]:
    """Dovecot with implicit TLS (imaps) and STARTTLS, self-signed certificate."""
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed although `make test` installs it")
        pytest.skip("dovecot is not installed: run scripts/install-test-servers.sh")
    with run_dovecot(seed_messages[:3], tls=True) as server:
        yield server


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[Radicale]:
    """A Radicale CalDAV/CardDAV server on 127.0.0.1 with empty storage."""
    pytest.importorskip("radicale")
    with run_radicale(tmp_path / "radicale") as server:
        yield server
