"""The CLI as a user runs it: a real subprocess, JSON on stdout, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MSG = "From: a@example.com\nTo: b@example.com\nSubject: hello {n}\nMessage-ID: <{n}@x>\n" \
      "Date: Tue, 10 Nov 2026 09:14:00 -0800\n\nbody {n}\n"  # fmt: skip


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MAILMIND_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True,
        timeout=120, check=False, cwd=Path(__file__).resolve().parents[3],
    )  # fmt: skip


@pytest.fixture
def mailbox(tmp_path: Path) -> Path:
    folder = tmp_path / "mails"
    folder.mkdir()
    for n in range(5):
        (folder / f"{n}.eml").write_text(MSG.format(n=n))
    (folder / "bad.eml").write_bytes(b"\x00garbage")
    return folder


def test_ingest_json_is_one_object_and_idempotent(tmp_path: Path, mailbox: Path) -> None:
    data = tmp_path / "data"
    first = run(["ingest", str(mailbox), "--user", "alice", "--json"], data)
    assert first.returncode == 0, first.stderr
    lines = [line for line in first.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert (report["added"], report["duplicates"], report["quarantined"]) == (5, 0, 1)
    assert report["quarantine_reasons"] == {"no RFC 5322 header found (not an email)": 1}
    assert report["index"]["embedded"] == 5  # ingest indexes by default
    second = json.loads(run(["ingest", str(mailbox), "--user", "alice", "--json"], data).stdout)
    assert (second["added"], second["quarantined"], second["already_quarantined"]) == (0, 0, 1)
    assert (second["index"]["embedded"], second["index"]["unchanged"]) == (0, 5)
    stats = json.loads(run(["stats", "--user", "alice", "--json"], data).stdout)
    assert stats["messages"] == 5 and stats["threads"] == 5 and stats["quarantined"] == 1
    assert stats["first_date"].startswith("2026-11-10T17:14:00")


def test_incompatible_index_asks_for_rebuild_and_rebuild_recovers(
    tmp_path: Path, mailbox: Path
) -> None:
    data = tmp_path / "data"
    assert run(["ingest", str(mailbox), "--user", "alice", "--json"], data).returncode == 0
    [meta_path] = data.glob("index/*/mailmind_index.json")
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "schema": meta["schema"] - 1}))  # an old layout
    stale = run(["index", "--json"], data)
    assert stale.returncode != 0
    assert "mailmind index --rebuild" in json.loads(stale.stdout)["message"]
    rebuilt = run(["index", "--rebuild", "--json"], data)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["users"]["alice"]["embedded"] == 5
    assert json.loads(meta_path.read_text())["schema"] == meta["schema"]


def test_human_output_has_summary(tmp_path: Path, mailbox: Path) -> None:
    res = run(["ingest", str(mailbox), "--user", "alice", "--no-index"], tmp_path / "data")
    assert res.returncode == 0
    assert "5 added" in res.stderr and "1 quarantined" in res.stderr
    assert res.stdout == ""


def test_unusable_path_exits_2_with_clear_message(tmp_path: Path) -> None:
    res = run(["ingest", str(tmp_path / "missing"), "--user", "a", "--json"], tmp_path / "d")
    assert res.returncode == 2
    assert json.loads(res.stdout)["error"] == "source_error"
    assert "does not exist" in res.stderr


# Root reads everything, and the interpreter under /root is not reachable as another user, so
# this one runs only for non-root developers.
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file; permissions cannot fail")
def test_unreadable_path_exits_2(tmp_path: Path, mailbox: Path) -> None:
    mailbox.chmod(0)
    try:
        res = run(["ingest", str(mailbox), "--user", "a"], tmp_path / "d")
    finally:
        mailbox.chmod(0o755)
    assert res.returncode == 2
    assert "permission denied" in res.stderr


def test_bad_user_id_exits_2(tmp_path: Path, mailbox: Path) -> None:
    res = run(["ingest", str(mailbox), "--user", "../../etc", "--json"], tmp_path / "d")
    assert res.returncode == 2
    assert json.loads(res.stdout)["error"] == "input_error"
