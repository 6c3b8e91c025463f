"""Mail ingestion: source → parse → store, resumable and idempotent.

Crash safety comes from three things together: each batch is one store transaction; every item
has a stable locator and every message a stable id, so a re-run skips what a killed run committed;
and threading is recomputed over the user's whole mailbox at the end of every run, so a run killed
before threading is completed by the next one. Unparseable input is quarantined (reason in the
store, a capped raw copy under ``<quarantine_dir>/<user>/``) and never stops a run.

Parsing runs in a process pool when there is more than one core: it is CPU-bound Python, and the
store writes (one SQLite writer) overlap with parsing in the workers.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.errors import ParseError
from core.types import Message
from retrieval.sources.mail.parse import parse_message
from retrieval.sources.mail.sources import RawItem, Source, open_source
from retrieval.store.base import QuarantineItem, Store, StoredItem, check_user
from retrieval.store.users import quarantine_dir_for

#: progress(items_done, bytes_done, bytes_total)
ProgressFn = Callable[[int, int, int], None]
#: Called with each batch of newly parsed messages (and raw bytes where a message carries a
#: calendar part) *before* the batch is committed, so a crash re-delivers it; hooks must be
#: idempotent (calendar invitations, people seen in mail).
BatchHook = Callable[[str, list[tuple[Message, bytes | None]]], None]

_POOL_MIN_BYTES = 4_000_000
_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics", "application/x-ics"})


#: How often a parser worker checks that the ingest that started it is still alive.
_WATCHDOG_S = 1.0


def _worker_init(parent: int) -> None:
    """Make a parser worker exit when the ingest process that started it dies.

    A ``kill -9`` of the ingest used to leave the workers blocked on their pipe forever, with
    parent PID 1, holding the SQLite files open. Two guards: on Linux the kernel sends SIGKILL
    when the parent dies (``PR_SET_PDEATHSIG``); everywhere, a daemon thread polls the parent
    and ends the process when it is gone (the parent may be a fork server, not the ingest).
    """
    import threading

    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # the watchdog below still applies
    ppid = os.getppid()

    def alive() -> bool:
        if os.getppid() != ppid:
            return False  # re-parented: whoever started us is gone
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def watch() -> None:
        while alive():
            time.sleep(_WATCHDOG_S)
        os._exit(1)

    if not alive():
        os._exit(1)  # the parent died before the guards were in place
    threading.Thread(target=watch, name="mailmind-parent-watchdog", daemon=True).start()


def has_calendar_part(message: Message) -> bool:
    """True when the message carries an iCalendar part (an invitation, reply or cancel)."""
    return any(
        a.content_type in _CALENDAR_TYPES or (a.filename or "").lower().endswith(".ics")
        for a in message.attachments
    )


@dataclass(slots=True)
class IngestReport:
    """Counts of one ingest run (the ``--json`` output of ``mailmind ingest``)."""

    user: str
    path: str
    format: str
    seen: int = 0
    added: int = 0
    duplicates: int = 0
    quarantined: int = 0
    already_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    threads: int = 0
    elapsed_s: float = 0.0
    messages_per_s: float = 0.0
    added_ids: list[str] = field(default_factory=list)

    def to_dict(self, *, with_ids: bool = False) -> dict[str, object]:
        """JSON-ready counts (ids omitted unless asked: they can be many)."""
        d = asdict(self)
        if not with_ids:
            d.pop("added_ids")
        return d


@dataclass(slots=True, frozen=True)
class _Parsed:
    locator: str
    message: Message | None
    reason: str | None
    data: bytes | None
    size: int


def _reason_key(reason: str) -> str:
    """Group reasons for the summary: the text before the first detail."""
    return reason.split(":", maxsplit=1)[0][:60]


def _parse_item(item: RawItem, max_bytes: int, body_chars: int) -> _Parsed:
    if item.error:
        return _Parsed(item.locator, None, item.error, None, item.size)
    try:
        msg = parse_message(
            item.data, folder=item.folder, max_bytes=max_bytes, body_chars=body_chars
        )
    except ParseError as exc:
        return _Parsed(item.locator, None, str(exc), item.data, item.size)
    except Exception as exc:  # noqa: BLE001 - any parser bug quarantines one item, not the run
        reason = f"unexpected parser error: {type(exc).__name__}: {exc}"
        return _Parsed(item.locator, None, reason, item.data, item.size)
    # Raw bytes travel on only where a hook needs them (calendar parts are rare).
    return _Parsed(
        item.locator, msg, None, item.data if has_calendar_part(msg) else None, item.size
    )


def _parse_chunk(items: list[RawItem], max_bytes: int, body_chars: int) -> list[_Parsed]:
    return [_parse_item(it, max_bytes, body_chars) for it in items]


def _chunks(items: Iterator[RawItem], size: int) -> Iterator[list[RawItem]]:
    chunk: list[RawItem] = []
    for it in items:
        chunk.append(it)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _QuarantineCopies:
    """Raw copies of one user's quarantined items under ``<root>/<user>/``, capped per item
    (the first ``max_item`` bytes are kept, the row says ``truncated``) and per user in total
    (beyond ``max_total`` no copy is made; the reason is still recorded)."""

    def __init__(self, folder: Path, max_item: int, max_total: int) -> None:
        self.folder = folder
        self.max_item = max_item
        self.max_total = max_total
        self._used: int | None = None  # measured on the first copy: most runs make none

    def save(self, data: bytes | None) -> tuple[str | None, str | None, bool]:
        """Keep a copy named by the hash of the whole item (idempotent on re-runs); returns
        ``(raw_path, sha256, truncated)``."""
        if not data:
            return None, None, False
        import hashlib

        from retrieval.store.users import dir_bytes

        digest = hashlib.sha256(data).hexdigest()
        kept = data[: max(self.max_item, 0)]
        target = self.folder / digest[:2] / f"{digest}.eml"
        if not target.exists():
            if self._used is None:
                self._used = dir_bytes(self.folder)
            if not kept or self._used + len(kept) > self.max_total:
                return None, digest, False
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(kept)
            tmp.replace(target)  # atomic: a crash never leaves a half-written copy
            self._used += len(kept)
        return str(target), digest, len(kept) < len(data)


class Ingestor:
    """Runs ingestion of mail sources into a store for one user at a time."""

    def __init__(
        self,
        store: Store,
        *,
        quarantine_dir: Path,
        quarantine_max_item_bytes: int = 1_000_000,
        quarantine_max_total_bytes: int = 100_000_000,
        batch_size: int = 500,
        max_bytes: int = 50_000_000,
        body_chars: int = 200_000,
        workers: int | None = None,
        hooks: Sequence[BatchHook] | None = None,
    ) -> None:
        self.store = store
        self.hooks = list(hooks or ())
        # The root: each user's copies go to ``<quarantine_dir>/<user>/`` (removed with the
        # user's data), so one ingestor can serve several users (IMAP sync).
        self.quarantine_dir = quarantine_dir
        self.quarantine_max_item_bytes = quarantine_max_item_bytes
        self.quarantine_max_total_bytes = quarantine_max_total_bytes
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        self.body_chars = body_chars
        cpus = os.cpu_count() or 1
        self.workers = workers if workers is not None else (cpus if cpus > 1 else 0)

    def ingest(self, user: str, path: Path, *, progress: ProgressFn | None = None) -> IngestReport:
        """Ingest every message under ``path`` for ``user``."""
        check_user(user)
        source = open_source(path)
        return self.ingest_source(user, source, progress=progress)

    def ingest_source(
        self, user: str, source: Source, *, progress: ProgressFn | None = None
    ) -> IngestReport:
        """Ingest an already opened source."""
        return self.ingest_items(
            user, str(source.path), source.format, source.items(),
            total_bytes=source.total_bytes, progress=progress,
        )  # fmt: skip

    def ingest_items(
        self,
        user: str,
        source_uri: str,
        fmt: str,
        items: Iterable[RawItem],
        *,
        total_bytes: int = 0,
        progress: ProgressFn | None = None,
        rethread: bool = True,
    ) -> IngestReport:
        """Ingest raw items of one source (a path, or e.g. an IMAP folder's new messages).

        ``rethread=False`` leaves provisional thread ids for a caller that stores many small
        batches (live sync) and rethreads once at the end.
        """
        check_user(user)
        started = time.perf_counter()
        report = IngestReport(user=user, path=source_uri, format=fmt)
        source_id = self.store.ensure_source(user, source_uri, fmt)
        run_id = self.store.start_run(user, source_id)
        known = self.store.known_locators(user, source_id)
        reasons: Counter[str] = Counter()
        bytes_done = 0
        copies = _QuarantineCopies(
            quarantine_dir_for(self.quarantine_dir, user),
            self.quarantine_max_item_bytes,
            self.quarantine_max_total_bytes,
        )
        status = "failed"
        try:
            pending_items: list[StoredItem] = []
            pending_quarantine: list[QuarantineItem] = []
            raw: dict[str, bytes] = {}

            def flush() -> None:
                if not pending_items and not pending_quarantine:
                    return
                if self.hooks and pending_items:
                    batch = [(it.message, raw.get(it.locator)) for it in pending_items]
                    for hook in self.hooks:
                        hook(user, batch)
                raw.clear()
                res = self.store.add_batch(user, source_id, pending_items, pending_quarantine)
                report.added += res.added
                report.duplicates += res.duplicates
                report.added_ids.extend(res.added_ids)
                pending_items.clear()
                pending_quarantine.clear()

            def fresh() -> Iterator[RawItem]:
                nonlocal bytes_done
                for item in items:
                    report.seen += 1
                    if item.locator in known:
                        # Stored or quarantined by an earlier run: nothing to do.
                        bytes_done += item.size
                        report.duplicates += 1
                        continue
                    yield item

            # A process pool costs ~0.3 s to start: not worth it for a handful of messages.
            pool = self.workers if total_bytes >= _POOL_MIN_BYTES else 0
            for parsed in self._parse_all(fresh(), pool):
                bytes_done += parsed.size
                if parsed.message is not None:
                    pending_items.append(StoredItem(parsed.message, parsed.locator))
                    if parsed.data is not None:
                        raw[parsed.locator] = parsed.data
                else:
                    reason = parsed.reason or "unknown error"
                    raw_path, digest, truncated = copies.save(parsed.data)
                    pending_quarantine.append(
                        QuarantineItem(
                            parsed.locator, reason, raw_path, digest, parsed.size, truncated
                        )
                    )
                    report.quarantined += 1
                    reasons[_reason_key(reason)] += 1
                if len(pending_items) + len(pending_quarantine) >= self.batch_size:
                    flush()
                if progress is not None:
                    progress(report.seen, bytes_done, total_bytes)
            flush()
            report.already_quarantined = sum(
                # Locators are only unique within a source ("1.eml" exists in many folders).
                1
                for q in self.store.list_quarantine(user, source_id=source_id)
                if q.locator in known
            )
            report.duplicates -= report.already_quarantined
            if rethread:
                report.threads = self.store.rethread(user)
            status = "completed"
        finally:
            report.quarantine_reasons = dict(reasons.most_common())
            report.elapsed_s = round(time.perf_counter() - started, 3)
            processed = report.added + report.duplicates + report.quarantined
            report.messages_per_s = (
                round(processed / report.elapsed_s, 1) if report.elapsed_s else 0.0
            )
            counts = {k: v for k, v in report.to_dict().items() if isinstance(v, int)}
            self.store.finish_run(user, run_id, status, counts)
        if progress is not None:
            progress(report.seen, total_bytes, total_bytes)
        return report

    def _parse_all(self, items: Iterator[RawItem], workers: int) -> Iterator[_Parsed]:
        if workers <= 1:
            for item in items:
                yield _parse_item(item, self.max_bytes, self.body_chars)
            return
        # Chunks amortise inter-process overhead; a bounded window keeps memory flat on huge
        # sources while both cores stay busy.
        with ProcessPoolExecutor(
            max_workers=workers, initializer=_worker_init, initargs=(os.getpid(),)
        ) as pool:
            window: list = []
            for chunk in _chunks(items, 64):
                window.append(pool.submit(_parse_chunk, chunk, self.max_bytes, self.body_chars))
                if len(window) >= workers * 4:
                    yield from window.pop(0).result()
            for fut in window:
                yield from fut.result()
