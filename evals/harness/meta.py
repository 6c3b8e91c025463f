"""Run metadata: dataset fingerprint, git commit, machine, prompt versions."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.harness.report import RunMeta

_REPO = Path(__file__).resolve().parents[2]


def fingerprint(path: Path) -> str:
    """``sha256:`` of a file, or of a folder's files (relative names and contents, sorted), so
    the same data under another path has the same fingerprint."""
    digest = hashlib.sha256()
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file.name.startswith(".") or "__pycache__" in file.parts:
            continue
        digest.update(str(file.relative_to(path) if file != path else file.name).encode())
        digest.update(b"\0")
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


def git_state(repo: Path = _REPO) -> tuple[str | None, bool | None]:
    """(commit, whether the working tree has changes); ``(None, None)`` outside a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10,
            check=True,
        ).stdout.strip()  # fmt: skip
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())


def machine() -> dict[str, Any]:
    """Where the numbers were measured (latencies depend on it)."""
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }


def prompt_versions(names: Iterable[str]) -> dict[str, int]:
    """Versions of the named prompts, read through the renderer the agents use."""
    from prompts import load_prompt

    return {name: load_prompt(name).version for name in names}


def run_meta(
    suite: str,
    *,
    dataset: Path | None = None,
    model: str | None = None,
    runtime: str | None = None,
    prompts: Iterable[str] = (),
    parameters: dict[str, Any] | None = None,
) -> RunMeta:
    """Metadata of a run starting now."""
    commit, dirty = git_state()
    return RunMeta(
        suite=suite,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        model=model,
        runtime=runtime,
        parameters=parameters or {},
        prompts=prompt_versions(prompts),
        dataset=str(dataset) if dataset is not None else None,
        dataset_fingerprint=fingerprint(dataset) if dataset is not None else None,
        git_commit=commit,
        git_dirty=dirty,
        machine=machine(),
        command=" ".join(["mailmind", *sys.argv[1:]]) if sys.argv else None,
    )
