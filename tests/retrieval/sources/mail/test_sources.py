"""Source detection and splitting: mbox (incl. bytes the stdlib chokes on), Maildir, trees."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from core.errors import SourceError
from retrieval.sources.mail.sources import detect_format, open_source
from tests.conftest import shared_path

MSG = "From: a@example.com\nSubject: s{n}\nMessage-ID: <{n}@x>\n\nbody {n}\n"


def test_mbox_with_non_utf8_bytes_that_stdlib_rejects() -> None:
    folder = shared_path("mail", "mbox_samples")
    bad = [f for f in sorted(folder.glob("*.mbox")) if _stdlib_raises(f)]
    assert len(bad) >= 2, "the data README promises two mbox files that make mailbox.mbox raise"
    for path in bad:
        src = open_source(path)
        assert src.format == "mbox"
        items = list(src.items())
        assert len(items) == _count_from_lines(path)
        assert all(it.locator.startswith(path.name + "#") for it in items)


def _stdlib_raises(path: Path) -> bool:
    try:
        for _ in mailbox.mbox(path):
            pass
    except UnicodeDecodeError:
        return True
    return False


def _count_from_lines(path: Path) -> int:
    prev_blank, n = True, 0
    for line in path.read_bytes().splitlines(keepends=True):
        if line.startswith(b"From ") and prev_blank:
            n += 1
        prev_blank = line in (b"\n", b"\r\n")
    return n


def test_maildir_detection_and_folders(tmp_path: Path) -> None:
    root = tmp_path / "Mail"
    for sub in ("cur", "new", "tmp", ".Sent/cur", ".Sent/new"):
        (root / sub).mkdir(parents=True)
    (root / "cur" / "1.a:2,S").write_text(MSG.format(n=1))
    (root / "new" / "2.b").write_text(MSG.format(n=2))
    (root / "tmp" / "3.c").write_text(MSG.format(n=3))  # being delivered: must be skipped
    (root / ".Sent" / "cur" / "4.d:2,S").write_text(MSG.format(n=4))
    (root / "dovecot-uidlist").write_text("3 V1 N5\n")
    assert detect_format(root) == "maildir"
    items = list(open_source(root).items())
    assert sorted(it.folder or "" for it in items) == ["", "", ".Sent"]
    assert len(items) == 3


def test_eml_file_and_tree(tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_text(MSG.format(n=1))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.eml").write_text(MSG.format(n=2))
    assert detect_format(tmp_path / "a.eml") == "eml"
    assert detect_format(tmp_path) == "tree"
    locs = sorted(it.locator for it in open_source(tmp_path).items())
    assert locs == ["a.eml", "sub/b.eml"]


def test_unusable_paths_raise_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        detect_format(tmp_path / "nope")
