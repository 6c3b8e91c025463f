"""Ingest ``.ics`` / ``.jcal`` files and folders into the calendar store."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import SourceError
from retrieval.sources.calendar.parse import ParsedCalendar, parse_ics, parse_jcal
from retrieval.store.calendar import CalendarStore

ICS_SUFFIXES = (".ics", ".ical", ".ifb", ".icalendar", ".vcs")
JCAL_SUFFIXES = (".jcal", ".jcs")


@dataclass(slots=True)
class IngestReport:
    """What an ingest run did: files read, store outcomes, quarantined items."""

    files: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly summary."""
        return {
            "files": self.files,
            **dict(self.counts),
            "failures": [{"item": i, "reason": r} for i, r in self.failures],
            "skipped": self.skipped,
        }


def iter_files(path: Path, suffixes: tuple[str, ...]) -> tuple[list[Path], list[Path]]:
    """(matching files, other files) under ``path`` (a file or a folder), sorted."""
    if not path.exists():
        raise SourceError(f"no such file or folder: {path}")
    if path.is_file():
        return [path], []
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    wanted = [p for p in files if p.suffix.lower() in suffixes]
    return wanted, [p for p in files if p.suffix.lower() not in suffixes]


def parse_calendar_file(path: Path) -> ParsedCalendar:
    """Parse one file by its suffix (jCal or iCalendar); unreadable files become failures."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ParsedCalendar(failures=[(str(path), f"unreadable: {exc}")])
    if path.suffix.lower() in JCAL_SUFFIXES:
        return parse_jcal(data, str(path))
    return parse_ics(data, str(path))


def ingest_ics_path(
    store: CalendarStore, user: str, path: str | Path, *, calendar: str | None = None
) -> IngestReport:
    """Store every event of an ``.ics``/``.jcal`` file or folder for ``user``.

    Re-ingesting is idempotent: each file is one source, so events removed from a file are
    removed from the store. ``calendar`` defaults to the file's stem.
    """
    root = Path(path).expanduser()
    files, others = iter_files(root, ICS_SUFFIXES + JCAL_SUFFIXES)
    report = IngestReport(skipped=[str(p) for p in others])
    for file in files:
        parsed = parse_calendar_file(file)
        report.files += 1
        report.failures.extend(parsed.failures)
        source = f"file:{file.resolve()}"
        counts = store.replace_source(
            user, source, parsed.components, calendar=calendar or file.stem
        )
        report.counts.update(counts)
    return report
