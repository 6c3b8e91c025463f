"""Mail ingestion: source → parse → store, resumable and idempotent.

Crash safety comes from three things together: each batch is one store transaction; every item
has a stable locator and every message a stable id, so a re-run skips what a killed run committed;
and threading is recomputed over the user's whole mailbox at the end of every run, so a run killed
before threading is completed by the next one. Unparseable input is quarantined (raw copy under
the data dir, reason in the store) and never stops a run.

Parsing runs in a process pool when there is more than one core: it is CPU-bound Python, and the
store writes (one SQLite writer) overlap with parsing in the workers.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.errors import ParseError
from core.types import Message
from retrieval.mail.parse import parse_message
from retrieval.mail.sources import RawItem, Source, open_source
from retrieval.store.base import QuarantineItem, Store, StoredItem, check_user

#: progress(items_done, bytes_done, bytes_total)
ProgressFn = Callable[[int, int, int], None]
#: Called with each batch of newly parsed messages (and raw bytes where a message carries a
#: calendar part) *before* the batch is committed, so a crash re-delivers it; hooks must be
#: idempotent (calendar invitations, people seen in mail).
BatchHook = Callable[[str, list[tuple[Message, bytes | None]]], None]

_POOL_MIN_BYTES = 4_000_000
_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics", "application/x-ics"})


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


def _save_raw(quarantine_dir: Path, data: bytes | None) -> tuple[str | None, str | None]:
    """Keep a raw copy named by content hash (idempotent on re-runs)."""
    if not data:
        return None, None
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    target = quarantine_dir / digest[:2] / f"{digest}.eml"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)  # atomic: a crash never leaves a half-written copy
    return str(target), digest


class Ingestor:
    """Runs ingestion of mail sources into a store for one user at a time."""

    def __init__(
        self,
        store: Store,
        *,
        quarantine_dir: Path,
        batch_size: int = 500,
        max_bytes: int = 50_000_000,
        body_chars: int = 200_000,
        workers: int | None = None,
        hooks: Sequence[BatchHook] | None = None,
    ) -> None:
        self.store = store
        self.hooks = list(hooks or ())
        self.quarantine_dir = quarantine_dir
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
                    raw_path, digest = _save_raw(self.quarantine_dir, parsed.data)
                    pending_quarantine.append(
                        QuarantineItem(parsed.locator, reason, raw_path, digest, parsed.size)
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
        with ProcessPoolExecutor(max_workers=workers) as pool:
            window: list = []
            for chunk in _chunks(items, 64):
                window.append(pool.submit(_parse_chunk, chunk, self.max_bytes, self.body_chars))
                if len(window) >= workers * 4:
                    yield from window.pop(0).result()
            for fut in window:
                yield from fut.result()
