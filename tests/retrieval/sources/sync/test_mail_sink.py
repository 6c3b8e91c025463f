"""IMAP sync into the real store: same result as ingesting the Maildir from disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from imapclient import IMAPClient
from pydantic import SecretStr

from api.services import Services
from core.settings import MailAccount, Settings, SyncSettings
from retrieval.sources.sync.run import run_sync
from tests.retrieval.sources.sync.servers import Dovecot

pytestmark = [pytest.mark.server, pytest.mark.integration]

APPENDED = (
    b"From: New Sender <new@example.org>\r\nTo: alice@example.org\r\n"
    b"Subject: appended\r\nMessage-ID: <sink-appended@example.org>\r\n"
    b"Date: Mon, 04 Mar 2024 10:00:00 +0000\r\n\r\nHello from APPEND.\r\n"
)


def _settings(base: Settings, server: Dovecot, folders: list[str]) -> Settings:
    account = MailAccount(
        name="dove", user="alice", host="127.0.0.1", port=server.port, tls=False,
        username=server.username, password=SecretStr(server.password), folders=folders,
    )  # fmt: skip
    return base.model_copy(update={"sync": SyncSettings(imap=[account])})


def _sync(services: Services) -> dict[str, int]:
    sink = services.mail_sink()
    summary = run_sync(services.settings, mail=(sink.on_message, sink.on_expunge, sink.on_flags))
    sink.finish()
    assert all("error" not in a for a in summary["imap"]), summary
    return {"added": sink.added, "removed": sink.removed}


def _client(server: Dovecot) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=server.port, ssl=False)
    client.login(server.username, server.password)
    return client


def test_imap_sync_equals_maildir_ingest_and_follows_changes(
    dovecot: Dovecot, settings: Settings, seed_messages: list[Path]
) -> None:
    services = Services(_settings(settings, dovecot, ["INBOX"]))
    try:
        # Reference: the same files ingested from disk (the server holds exactly these).
        disk_dir = settings.data_dir.parent / "disk"
        disk_dir.mkdir()
        for path in seed_messages:
            (disk_dir / path.name).write_bytes(path.read_bytes())
        services.ingest_path("disk", disk_dir, index=False)
        disk = {m.id: (m.subject, m.new_text) for m in services.store.iter_messages("disk")}

        first = _sync(services)
        imap = {m.id: (m.subject, m.new_text) for m in services.store.iter_messages("alice")}
        assert first["added"] == len(seed_messages) == len(disk)
        assert imap == disk
        assert services.store.stats("alice").threads == services.store.stats("disk").threads

        assert _sync(services) == {"added": 0, "removed": 0}  # nothing changed

        with _client(dovecot) as client:
            client.append("INBOX", APPENDED)
            client.select_folder("INBOX")
            uids = sorted(client.search("ALL"))
            gone = client.fetch([uids[0]], ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            client.delete_messages(uids[0])
            client.expunge()
        gone_mid = next(iter(gone.values()))[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]
        second = _sync(services)
        assert second == {"added": 1, "removed": 1}
        mids = {m.message_id for m in services.store.iter_messages("alice")}
        assert "sink-appended@example.org" in mids
        assert gone_mid.decode().split("<", 1)[1].split(">", 1)[0] not in mids
        assert services.store.stats("alice").messages == len(seed_messages)
    finally:
        services.close()


def test_uidvalidity_change_resyncs_store_without_duplicates(
    dovecot: Dovecot, settings: Settings, seed_messages: list[Path]
) -> None:
    with _client(dovecot) as client:
        client.create_folder("Work")
        for path in seed_messages[:3]:
            client.append("Work", path.read_bytes())
    services = Services(_settings(settings, dovecot, ["Work"]))
    try:
        assert _sync(services)["added"] == 3
        before = services.store.message_ids("alice")
        with _client(dovecot) as client:
            client.delete_folder("Work")
            client.create_folder("Work")
            for path in seed_messages[:3]:
                client.append("Work", path.read_bytes())
        again = _sync(services)
        assert again == {"added": 3, "removed": 3}
        assert services.store.message_ids("alice") == before
        assert services.store.stats("alice").messages == 3
    finally:
        services.close()
