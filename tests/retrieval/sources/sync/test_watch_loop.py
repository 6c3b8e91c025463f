"""The ``sync --watch`` loop with a scripted IMAP client: IDLE wakes a new pass, the folder is
selected before the first pass, a server without IDLE is polled, and stop ends the loop."""

from __future__ import annotations

import threading
from typing import Any

from pydantic import SecretStr

from core.settings import MailAccount
from retrieval.sources.sync.watch import ImapIdler, watch

ACCOUNT = MailAccount(
    name="t", user="alice", host="127.0.0.1", username="u", password=SecretStr("p"),
    folders=["INBOX", "Sent"],
)  # fmt: skip


class ScriptedImap:
    """What ImapIdler uses of IMAPClient, with scripted IDLE responses."""

    def __init__(self, *, idle: bool = True, responses: list[list[Any]] | None = None) -> None:
        self.idle_capable = idle
        self.responses = responses or []
        self.log: list[str] = []

    def has_capability(self, name: str) -> bool:
        return name == "IDLE" and self.idle_capable

    def select_folder(self, folder: str, readonly: bool = False) -> None:
        self.log.append(f"select {folder} ro={readonly}")

    def idle(self) -> None:
        self.log.append("idle")

    def idle_check(self, timeout: float) -> list[Any]:
        return self.responses.pop(0) if self.responses else []

    def idle_done(self) -> None:
        self.log.append("done")

    def logout(self) -> None:
        self.log.append("logout")


def test_idle_wakes_the_next_pass_and_the_folder_is_selected_first() -> None:
    client = ScriptedImap(responses=[[(3, b"EXISTS")], [(2, b"EXPUNGE")]])
    connects: list[int] = []
    log: list[str] = []

    def connect() -> ScriptedImap:
        connects.append(1)
        return client

    def sync_pass() -> dict[str, Any]:
        log.append(f"pass after {client.log[-1]}")
        return {}

    idler = ImapIdler(ACCOUNT, connect=connect)
    passes = watch(sync_pass, stop=threading.Event(), idler=idler, poll_s=60, max_passes=3)
    assert passes == 3
    # The first folder is selected before the first pass; each change wakes one more pass at
    # once (poll_s is a minute: only IDLE could have woken them), on one connection.
    assert log == ["pass after select INBOX ro=True", "pass after done", "pass after done"]
    assert connects == [1]
    assert client.log[-1] == "logout"


def test_a_server_without_idle_is_polled() -> None:
    client = ScriptedImap(idle=False)
    connects: list[int] = []

    def connect() -> ScriptedImap:
        connects.append(1)
        return client

    idler = ImapIdler(ACCOUNT, connect=connect)
    passes = watch(lambda: {}, stop=threading.Event(), idler=idler, poll_s=0.01, max_passes=4)
    assert passes == 4 and not idler.supported
    assert connects == [1]  # asked once, then polled without reconnecting
    assert "idle" not in client.log


def test_stop_ends_the_watch_after_the_pass_in_hand() -> None:
    stop = threading.Event()
    passes = watch(lambda: {}, stop=stop, idler=None, poll_s=60, on_pass=lambda _s: stop.set())
    assert passes == 1
