"""IMAP sync against a real Dovecot: fetch == Maildir on disk, new, flags, expunge, resync."""

from __future__ import annotations

import email
from pathlib import Path

import pytest
from imapclient import IMAPClient
from pydantic import SecretStr

from core.errors import SyncError
from core.settings import MailAccount
from retrieval.sources.sync.imap import ImapState, MessageLocator, sync_imap_account
from tests.retrieval.sources.sync.servers import Dovecot

pytestmark = [pytest.mark.server, pytest.mark.integration]

NEW_MESSAGE = (
    b"From: New Sender <new@example.org>\r\nTo: tester@example.org\r\n"
    b"Subject: appended\r\nMessage-ID: <appended-1@example.org>\r\n"
    b"Date: Mon, 04 Mar 2024 10:00:00 +0000\r\n\r\nHello from APPEND.\r\n"
)


class Sink:
    """What mail ingestion would hold: raw messages by locator (a fake, not a mock)."""

    def __init__(self) -> None:
        self.messages: dict[tuple[str, int, int], bytes] = {}
        self.flag_changes: list[MessageLocator] = []

    def on_message(self, user: str, folder: str, raw: bytes, loc: MessageLocator) -> None:
        assert user == "alice"
        key = (folder, loc.uidvalidity, loc.uid)
        assert key not in self.messages, "delivered twice"
        self.messages[key] = raw

    def on_expunge(self, user: str, folder: str, locs: list[MessageLocator]) -> None:
        for loc in locs:
            del self.messages[(folder, loc.uidvalidity, loc.uid)]

    def on_flags(self, user: str, folder: str, locs: list[MessageLocator]) -> None:
        self.flag_changes.extend(locs)

    def message_ids(self, folder: str = "INBOX") -> list[str]:
        return sorted(
            str(email.message_from_bytes(raw)["Message-ID"]).strip()
            for (f, _v, _u), raw in self.messages.items()
            if f == folder
        )


def _account(server: Dovecot, folders: list[str] | None = None) -> MailAccount:
    return MailAccount(
        name="test",
        user="alice",
        host="127.0.0.1",
        port=server.port,
        tls=False,
        username=server.username,
        password=SecretStr(server.password),
        folders=folders or ["INBOX"],
    )


def _client(server: Dovecot) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=server.port, ssl=False)
    client.login(server.username, server.password)
    return client


def _sync(server: Dovecot, state: ImapState, sink: Sink, folders: list[str] | None = None):  # type: ignore[no-untyped-def]
    return sync_imap_account(
        _account(server, folders), state, sink.on_message, sink.on_expunge, sink.on_flags
    )


def _normalise(raw: bytes) -> bytes:
    # IMAP transmits CRLF; the Maildir files hold LF line ends.
    return raw.replace(b"\r\n", b"\n")


def test_fetch_equals_maildir_then_new_flags_expunge(dovecot: Dovecot, tmp_path: Path) -> None:
    state, sink = ImapState(tmp_path / "state.sqlite3"), Sink()
    report = _sync(dovecot, state, sink)
    assert report.errors == []
    on_disk = sorted(_normalise(p.read_bytes()) for p in (dovecot.maildir / "cur").iterdir())
    assert sorted(_normalise(raw) for raw in sink.messages.values()) == on_disk
    assert report.new == len(on_disk) == 12

    # Nothing changed: CONDSTORE lets the folder be skipped.
    again = _sync(dovecot, state, sink)
    assert again.new == 0 and again.folders[0].unchanged

    with _client(dovecot) as client:
        client.append("INBOX", NEW_MESSAGE)
        client.select_folder("INBOX")
        uids = sorted(client.search("ALL"))
        client.add_flags(uids[0], [b"\\Flagged"])
        client.delete_messages(uids[1])
        client.expunge()
    report = _sync(dovecot, state, sink)
    assert (report.new, report.folders[0].flags_changed, report.folders[0].expunged) == (1, 1, 1)
    assert "<appended-1@example.org>" in sink.message_ids()
    assert len(sink.messages) == 12
    assert "\\Flagged" in sink.flag_changes[0].flags
    # The server's \Seen flag was not set by our fetches (BODY.PEEK).
    with _client(dovecot) as client:
        client.select_folder("INBOX", readonly=True)
        assert client.search("SEEN") == []


def test_uidvalidity_change_resyncs_without_duplicates(dovecot: Dovecot, tmp_path: Path) -> None:
    seeds = sorted((dovecot.maildir / "cur").iterdir())[:3]
    with _client(dovecot) as client:
        client.create_folder("Work")
        for path in seeds:
            client.append("Work", path.read_bytes())
    state, sink = ImapState(tmp_path / "state.sqlite3"), Sink()
    first = _sync(dovecot, state, sink, ["Work"])
    expected = sink.message_ids("Work")
    assert first.new == 3 and len(expected) == 3
    old_validity = first.folders[0].uidvalidity

    # Deleting and re-creating a folder gives it a new UIDVALIDITY.
    with _client(dovecot) as client:
        client.delete_folder("Work")
        client.create_folder("Work")
        for path in seeds:
            client.append("Work", path.read_bytes())
    second = _sync(dovecot, state, sink, ["Work"])
    folder = second.folders[0]
    assert folder.uidvalidity != old_validity
    assert folder.resynced and folder.expunged == 3 and folder.new == 3
    assert sink.message_ids("Work") == expected  # same messages, no duplicates
    assert {v for (_f, v, _u) in sink.messages} == {folder.uidvalidity}


def test_bad_password_is_a_sync_error_without_the_secret(dovecot: Dovecot, tmp_path: Path) -> None:
    account = _account(dovecot).model_copy(update={"password": SecretStr("wrong-pass")})
    with pytest.raises(SyncError) as info:
        sync_imap_account(
            account, ImapState(tmp_path / "s.db"), Sink().on_message, Sink().on_expunge
        )
    assert "wrong-pass" not in str(info.value)
    assert "tester" in str(info.value)
