"""Cross-process lock on a Qdrant Edge shard: one process at a time, waiting, never failing.

A Qdrant Edge shard can be open in one process only (its WAL is locked with ``flock``; a second
``EdgeShard.load`` fails with ``Can't init WAL: Kind(WouldBlock)``), and Edge has no read-only
open. So every process that touches a shard first takes :class:`ShardLock`, an advisory
``flock`` on ``<shard>/.mailmind.lock``, and holds it only while it uses the shard (see
:class:`~retrieval.index.edge.EdgeIndex`: a write batch or one search, then flush, close,
unlock). A process that finds the lock taken waits, tells the user once who holds it (the PID is
written into the lock file), and gives up with :class:`IndexLockTimeoutError` only after
``timeout_s`` (``MAILMIND_INDEX__LOCK_TIMEOUT_S``). While it waits it touches
``<shard>/.mailmind.wait``; a holder that keeps shards open between operations (the service,
a long ingest) sees it and lets go after its current operation, so a long-lived process never
shuts the others out.

The lock file lives inside the shard folder so deleting a user removes it too; a process that
locked a file which was unlinked meanwhile (the shard was deleted) notices by inode and retries.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from core.errors import VectorIndexError

LOCK_FILE = ".mailmind.lock"
#: Touched by a process while it waits for the lock, so the holder lets go (see ``wanted``).
WAIT_FILE = ".mailmind.wait"
#: A wait file touched longer ago than this is left over from a wait that ended.
_WAIT_FRESH_S = 1.0
#: How often a waiting process retries the lock.
_POLL_S = 0.05
#: A wait shorter than this (the holder finishing one batch) is not worth a notice.
_NOTICE_AFTER_S = 0.5
#: A waiter repeats its notice this often, so a long wait never looks like a hang.
_REMIND_S = 30.0

Notifier = Callable[[str], None]


def _stderr(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


_notifier: list[Notifier] = [_stderr]  # a one-element box: replaced, not rebound


def set_notifier(notifier: Notifier | None) -> Notifier:
    """Route index notices (lock waits, hand-offs to a running service) to ``notifier``
    (default: a line on stderr); returns the previous one so a caller can restore it."""
    previous = _notifier[0]
    _notifier[0] = notifier or _stderr
    return previous


def notify(message: str) -> None:
    """Tell the user something about the index that explains a pause (never raises)."""
    with contextlib.suppress(Exception):  # a closed console must never fail an index write
        _notifier[0](message)


class IndexLockTimeoutError(VectorIndexError):
    """Another process held a shard's lock for longer than the configured timeout."""

    code = "index_lock_timeout"


def holder_pid(lock_path: Path) -> int | None:
    """PID written into ``lock_path`` by its current (or last) holder, if readable."""
    try:
        text = lock_path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class ShardLock:
    """Exclusive ``flock`` on ``<folder>/.mailmind.lock``.

    Not reentrant and not thread-safe: :class:`~retrieval.index.edge.EdgeIndex` keeps one per
    open shard and counts its users itself. ``flock`` locks belong to the open file, so the lock
    is released when the process dies, however it dies: a crashed writer never wedges a shard.
    """

    def __init__(self, folder: Path, *, timeout_s: float, what: str = "index") -> None:
        self.path = Path(folder) / LOCK_FILE
        self.wait_path = Path(folder) / WAIT_FILE
        self.timeout_s = timeout_s
        self.what = what
        self._fd: int | None = None
        # Who waits: one process may hold two handles on a shard (two indexes in one test).
        self._token = f"{os.getpid()}:{id(self)}"

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, waiting up to ``timeout_s``, then raise :class:`IndexLockTimeoutError`."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this object")
        start = time.monotonic()
        told = 0.0  # when the last notice was given (0: never)
        while True:
            fd = self._try_once()
            if fd is not None:
                self._fd = fd
                if told:
                    waited = time.monotonic() - start
                    notify(f"got the {self.what} lock after {waited:.1f} s")
                return
            now = time.monotonic()
            waited = now - start
            if waited >= self.timeout_s:
                pid = holder_pid(self.path)
                raise IndexLockTimeoutError(
                    f"the {self.what} lock {self.path} is still held by "
                    f"{_who(pid)} after {waited:.0f} s; raise MAILMIND_INDEX__LOCK_TIMEOUT_S "
                    "or try again when it is done"
                )
            self._signal_wait()
            if (not told and waited >= _NOTICE_AFTER_S) or (told and now - told >= _REMIND_S):
                pid = holder_pid(self.path)
                notify(
                    f"waiting for the {self.what} lock held by {_who(pid)} "
                    f"(waited {waited:.0f} s, giving up after {self.timeout_s:.0f} s)"
                )
                told = now
            time.sleep(_POLL_S)

    def _try_once(self) -> int | None:
        """One non-blocking attempt; the fd of the locked file, or ``None`` if it is taken.

        Raises ``FileNotFoundError`` when the shard folder does not exist (any more): the
        caller creates it for a write and reads nothing otherwise.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            # The shard may have been deleted (and the file unlinked) between our open and our
            # lock: then we hold a lock nobody else can see. Check the path still names our file.
            try:
                same = self.path.stat().st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                return None  # retried by the caller's loop, on the file now at the path
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            return fd
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise

    def _signal_wait(self) -> None:
        with contextlib.suppress(OSError):  # best effort: the holder still lets go on linger
            self.wait_path.write_text(self._token)

    def wanted(self) -> bool:
        """Whether someone else is waiting for this lock right now (a long-lived holder, like
        the service, then closes the shard as soon as no operation is using it)."""
        try:
            if time.time() - self.wait_path.stat().st_mtime > _WAIT_FRESH_S:
                return False
            return self.wait_path.read_text() != self._token
        except OSError:
            return False

    def release(self) -> None:
        """Give the lock up (a no-op when not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _who(pid: int | None) -> str:
    if pid is None:
        return "another process"
    if pid == os.getpid():
        return f"PID {pid} (this process)"
    return f"PID {pid}"
