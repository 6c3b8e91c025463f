"""``mailmind sync --watch``: sync, then wait for the server to say something changed, repeat.

The wait is IMAP IDLE (RFC 2177) on the first folder of the first IMAP account: a connection of
its own stays selected on that folder for the whole watch, so a message that arrives while a
sync pass runs is reported as soon as the next IDLE starts, never missed. Other folders and
accounts (and CalDAV/CardDAV) are synced on every wake-up, and at least every ``poll_s``
seconds (IDLE is re-issued that often, well inside the 29 minutes RFC 2177 allows). A server
without IDLE, or an IDLE connection that fails, degrades to polling every ``poll_s`` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.settings import MailAccount

log = logging.getLogger(__name__)

#: Seconds one IDLE check blocks, so a stop request is noticed quickly.
_TICK_S = 1.0


class ImapIdler:
    """One IDLE connection on ``account``'s first folder; :meth:`wait` blocks until a change."""

    def __init__(self, account: MailAccount, *, connect: Callable[[], Any] | None = None) -> None:
        self.account = account
        self.folder = account.folders[0] if account.folders != ["*"] else "INBOX"
        self._connect = connect
        self._client: Any = None
        self.supported = True

    def open(self) -> bool:
        """Connect and select the folder (before the first sync pass: see the module docstring);
        False when the server cannot IDLE (the caller polls)."""
        if self._client is not None:
            return True
        if not self.supported:
            return False
        from retrieval.sources.sync.imap import connect_imap

        try:
            client = self._connect() if self._connect else connect_imap(self.account)
            if not client.has_capability("IDLE"):
                self.supported = False
                client.logout()
                return False
            client.select_folder(self.folder, readonly=True)
        except Exception as exc:  # noqa: BLE001 - watching degrades to polling, never stops
            log.warning("IMAP IDLE on %s/%s unavailable: %s", self.account.name, self.folder, exc)
            return False
        self._client = client
        return True

    def wait(self, timeout_s: float, stop: threading.Event) -> bool:
        """Block until the folder changes (True), ``timeout_s`` passes or ``stop`` is set."""
        if not self.open():
            stop.wait(timeout_s)
            return False
        client = self._client
        deadline = time.monotonic() + timeout_s
        changed = False
        try:
            client.idle()
            while not stop.is_set() and time.monotonic() < deadline:
                # EXISTS (new mail), EXPUNGE, FETCH (flags): any of them means sync again.
                if client.idle_check(timeout=min(_TICK_S, max(0.0, deadline - time.monotonic()))):
                    changed = True
                    break
            client.idle_done()
        except Exception as exc:  # noqa: BLE001 - reconnect on the next wait, poll meanwhile
            log.warning("IMAP IDLE on %s failed: %s", self.account.name, exc)
            self.close()
        return changed

    def close(self) -> None:
        """Log out (best effort)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.logout()


def watch(
    sync_pass: Callable[[], dict[str, Any]],
    *,
    stop: threading.Event,
    idler: ImapIdler | None,
    poll_s: float,
    on_pass: Callable[[dict[str, Any]], None] | None = None,
    max_passes: int | None = None,
) -> int:
    """Run ``sync_pass`` now and again after every change (or ``poll_s``) until ``stop``;
    returns the number of passes."""
    if idler is not None:
        idler.open()  # selected before the first pass: nothing can arrive unseen
    passes = 0
    try:
        while not stop.is_set():
            summary = sync_pass()
            passes += 1
            if on_pass is not None:
                on_pass(summary)
            if stop.is_set() or (max_passes is not None and passes >= max_passes):
                break
            if idler is not None:
                idler.wait(poll_s, stop)
            else:
                stop.wait(poll_s)
    finally:
        if idler is not None:
            idler.close()
    return passes
