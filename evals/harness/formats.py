"""Dataset format checks: a folder in the wrong format is an :class:`InputError` (exit 2) that
names the format the suite expects, never an empty report."""

from __future__ import annotations

from pathlib import Path

from core.errors import InputError

AESLC = (
    "AESLC format: a folder of *.subject files, each the email body, a blank line, '@subject' "
    "and the sender's subject, then '@ann0'..'@ann2' each followed by a human subject line"
)
BC3 = (
    'BC3 format: a folder with corpus.xml (<thread> of <DOC> with <Sent id="E.S"> sentences) '
    "and annotation.xml (three <annotation>s per thread, summary sentences linking to them)"
)
MAILDIR = "a Maildir-like folder tree of RFC 822 message files (one message per file)"
TASKS = (
    "an agent task set: a YAML file (or a folder holding tasks.yaml) like evals/agent/tasks.yaml"
)


class DatasetFormatError(InputError):
    """The dataset given to a suite is missing or not in the suite's format."""


def _folder(path: Path, expected: str) -> Path:
    if not path.exists():
        raise DatasetFormatError(f"dataset not found: {path} (expected {expected})")
    if not path.is_dir():
        raise DatasetFormatError(f"{path} is not a folder (expected {expected})")
    return path


def check_aeslc(path: Path, *, require_annotations: bool = True) -> Path:
    """``path`` if it is an AESLC-format folder (its first files are checked)."""
    _folder(path, AESLC)
    files = sorted(path.glob("*.subject"))
    if not files:
        raise DatasetFormatError(f"{path} has no *.subject files; expected {AESLC}")
    for file in files[:5]:
        text = file.read_text(encoding="utf-8", errors="replace")
        if "@subject" not in text:
            raise DatasetFormatError(f"{file.name} has no '@subject' line; expected {AESLC}")
        if require_annotations and "@ann0" not in text:
            raise DatasetFormatError(
                f"{file.name} has no '@ann0' human annotation (a train split?); expected {AESLC}"
            )
    return path


def check_bc3(path: Path) -> Path:
    """``path`` if it holds BC3's corpus.xml and annotation.xml."""
    _folder(path, BC3)
    for name in ("corpus.xml", "annotation.xml"):
        if not (path / name).is_file():
            raise DatasetFormatError(f"{path} has no {name}; expected {BC3}")
    return path


def check_maildir(path: Path) -> Path:
    """``path`` if it is a folder with at least one file that looks like an RFC 822 message."""
    _folder(path, MAILDIR)
    for file in (p for p in path.rglob("*") if p.is_file()):
        head = file.read_bytes()[:2048].lower()
        if b"\nfrom:" in b"\n" + head or b"\nsubject:" in b"\n" + head:
            return path
    raise DatasetFormatError(f"{path} holds no RFC 822 message; expected {MAILDIR}")


def check_tasks(path: Path) -> Path:
    """The task file ``path`` names (a YAML file, or ``tasks.yaml`` inside a folder)."""
    file = path / "tasks.yaml" if path.is_dir() else path
    if not file.is_file() or file.suffix not in (".yaml", ".yml"):
        raise DatasetFormatError(f"no task file at {path}; expected {TASKS}")
    return file
