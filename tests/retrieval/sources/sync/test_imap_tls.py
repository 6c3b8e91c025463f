"""IMAP over TLS against a real Dovecot: implicit TLS, STARTTLS, certificate verification."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.errors import SyncError
from core.settings import MailAccount
from retrieval.sources.sync.imap import ImapState, MessageLocator, sync_imap_account
from tests.retrieval.sources.sync.servers import Dovecot

pytestmark = [pytest.mark.server, pytest.mark.integration]


def _account(server: Dovecot, *, port: int, tls: bool, starttls: bool, verify: bool) -> MailAccount:
    return MailAccount(
        name="tls", user="alice", host="127.0.0.1", port=port, tls=tls, starttls=starttls,
        verify_tls=verify, username=server.username, password=SecretStr(server.password),
    )  # fmt: skip


def _sync(account: MailAccount, tmp_path: Path) -> int:
    got: list[bytes] = []

    def on_message(user: str, folder: str, raw: bytes, loc: MessageLocator) -> None:
        got.append(raw)

    report = sync_imap_account(account, ImapState(tmp_path / "s.db"), on_message, lambda *a: None)
    assert report.errors == []
    return len(got)


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
def test_tls_modes_fetch_the_mailbox(dovecot_tls: Dovecot, tmp_path: Path, mode: str) -> None:
    if mode == "implicit":
        acc = _account(dovecot_tls, port=dovecot_tls.imaps_port, tls=True, starttls=False,
                       verify=False)  # fmt: skip
    else:
        acc = _account(dovecot_tls, port=dovecot_tls.port, tls=False, starttls=True, verify=False)
    assert _sync(acc, tmp_path) == 3


def test_unverified_certificate_is_refused_by_default(dovecot_tls: Dovecot, tmp_path: Path) -> None:
    acc = _account(dovecot_tls, port=dovecot_tls.imaps_port, tls=True, starttls=False, verify=True)
    with pytest.raises((SyncError, ssl.SSLError)) as info:
        _sync(acc, tmp_path)
    assert dovecot_tls.password not in str(info.value)
