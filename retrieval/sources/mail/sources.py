"""Mail sources: detect a path's format and yield raw messages with a stable locator.

Formats: ``mbox`` (split on ``From`` lines in binary, so files with non-UTF-8 bytes that make
``mailbox.mbox`` raise are fine), ``maildir`` (``cur``/``new``), ``eml`` (one file) and ``tree``
(any folder of message files: a directory of ``.eml``, Maildir++ folders, the Enron layout, mixed
trees with mbox files inside). Calendar (``.ics``) and contact (``.vcf``) files are reported as
such so the CLI can route them.

A locator names an item inside its source (relative path, or ``path#offset`` for mbox) and is
stable across runs: resuming after a crash and quarantine bookkeeping rely on it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.errors import SourceError

SourceFormat = Literal["mbox", "maildir", "eml", "tree", "ics", "vcf"]

#: Files that live in mail folders but are not messages (Dovecot/Courier bookkeeping).
_SKIP_NAMES = frozenset(
    {
        "dovecot.index",
        "dovecot.index.log",
        "dovecot.index.cache",
        "dovecot-uidlist",
        "dovecot-keywords",
        "dovecot-uidvalidity",
        "subscriptions",
        "maildirfolder",
        "courierimapuiddb",
        "courierimapkeywords",
        ".ds_store",
    }
)
_CALENDAR_SUFFIXES = (".ics", ".ical", ".ifb")
_CONTACT_SUFFIXES = (".vcf", ".vcard")


@dataclass(slots=True, frozen=True)
class RawItem:
    """One message's raw bytes and where it came from."""

    locator: str
    folder: str | None
    data: bytes
    size: int
    error: str | None = None


def _looks_like_mbox(path: Path) -> bool:
    if path.suffix.lower() in (".mbox", ".mbx"):
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(5)
    except OSError:
        return False
    return head == b"From "


def detect_format(path: Path) -> SourceFormat:
    """Tell what kind of source ``path`` is; raises :class:`SourceError` for unusable paths."""
    if not path.exists():
        raise SourceError(f"path does not exist: {path}")
    if not os.access(path, os.R_OK):
        raise SourceError(f"permission denied: cannot read {path}")
    if path.is_dir():
        if not os.access(path, os.X_OK):
            raise SourceError(f"permission denied: cannot list {path}")
        if (path / "cur").is_dir() and (path / "new").is_dir():
            return "maildir"
        return "tree"
    if not path.is_file():
        raise SourceError(f"not a regular file or directory: {path}")
    suffix = path.suffix.lower()
    if suffix in _CALENDAR_SUFFIXES:
        return "ics"
    if suffix in _CONTACT_SUFFIXES:
        return "vcf"
    return "mbox" if _looks_like_mbox(path) else "eml"


def _folder_of(rel: Path) -> str | None:
    parts = [p for p in rel.parent.parts if p not in ("cur", "new")]
    return "/".join(parts) if parts else None


def iter_mbox(
    path: Path, *, base: Path | None = None, folder: str | None = None
) -> Iterator[RawItem]:
    """Split an mbox file into messages without decoding it (mboxo/mboxrd ``>From`` kept)."""
    name = str(path.relative_to(base)) if base else path.name
    chunk: list[bytes] = []
    start = 0
    offset = 0
    prev_blank = True
    with path.open("rb") as fh:
        for line in fh:
            if line.startswith(b"From ") and prev_blank:
                if chunk:
                    data = b"".join(chunk)
                    yield RawItem(f"{name}#{start}", folder, data, len(data))
                chunk = []
                start = offset + len(line)  # the message starts after the separator line
            else:
                chunk.append(line)
            offset += len(line)
            prev_blank = line in (b"\n", b"\r\n")
    if chunk:
        data = b"".join(chunk)
        if data.strip():
            yield RawItem(f"{name}#{start}", folder, data, len(data))


def _tree_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        # Maildir's tmp/ holds messages being delivered; hidden dirs are client bookkeeping
        # except Maildir++ subfolders, which start with a dot but contain cur/.
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d != "tmp" and (not d.startswith(".") or Path(dirpath, d, "cur").is_dir())
        )
        for fn in sorted(filenames):
            if fn.lower() in _SKIP_NAMES or fn.startswith("."):
                continue
            files.append(Path(dirpath, fn))
    return files


@dataclass(slots=True)
class Source:
    """A resolved mail source: its format, the files it holds and their total size."""

    path: Path
    format: SourceFormat
    files: list[Path]
    total_bytes: int

    def items(self) -> Iterator[RawItem]:
        """Yield every raw message (calendar/contact files inside trees are skipped)."""
        base = self.path if self.path.is_dir() else self.path.parent
        for f in self.files:
            rel = f.relative_to(base)
            folder = _folder_of(rel)
            if f.suffix.lower() in _CALENDAR_SUFFIXES + _CONTACT_SUFFIXES:
                continue
            if self.format == "mbox" or (self.format == "tree" and _looks_like_mbox(f)):
                yield from iter_mbox(f, base=base, folder=folder or f.stem)
                continue
            try:
                data = f.read_bytes()
            except OSError as exc:
                # An unreadable file is reported, not raised: the pipeline quarantines it.
                yield RawItem(str(rel), folder, b"", 0, error=f"cannot read file: {exc}")
                continue
            yield RawItem(str(rel), folder, data, len(data))

    @property
    def calendar_files(self) -> list[Path]:
        """``.ics`` files inside this source."""
        return [f for f in self.files if f.suffix.lower() in _CALENDAR_SUFFIXES]

    @property
    def contact_files(self) -> list[Path]:
        """``.vcf`` files inside this source."""
        return [f for f in self.files if f.suffix.lower() in _CONTACT_SUFFIXES]


def open_source(path: Path) -> Source:
    """Resolve ``path`` into a :class:`Source` (raises :class:`SourceError` when unusable)."""
    path = path.expanduser().resolve()
    fmt = detect_format(path)
    files = _tree_files(path) if path.is_dir() else [path]
    total = 0
    for f in files:
        try:
            total += f.stat().st_size
        except OSError:
            continue
    return Source(path=path, format=fmt, files=files, total_bytes=total)
