"""``mailmind prompt list|show|run``: the non-interactive prompt lab (offline model), with the
CLI's exit codes and ``--json`` error objects."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import build_app
from api.services import Services
from core.settings import Settings


def _run(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(settings), list(args))
    return result.exit_code, result.stdout


def test_list_and_show(tmp_path: Path, prompts_dir: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", prompts_dir=prompts_dir)  # type: ignore[call-arg]
    code, out = _run(settings, "prompt", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert listed["prompts_dir"] == str(prompts_dir.resolve())
    names = {p["name"]: p for p in listed["prompts"]}
    assert names["summarize_thread"]["variables"] == ["subject", "messages", "max_sentences"]
    code, out = _run(
        settings, "prompt", "show", "assistant_chat", "--var", "question=hello", "--json"
    )
    shown = json.loads(out)
    assert code == 0 and shown["id"] == "assistant_chat@1"
    assert "Reply briefly and kindly to: hello" in shown["rendered"]
    code, out = _run(settings, "prompt", "show", "nope", "--json")
    assert code == 2 and json.loads(out)["error"] == "prompt_error"


def test_run_with_sample_and_vars(tmp_path: Path, offline: Services, prompts_dir: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]
    thread = next(m.thread_id for m in offline.store.list_messages("demo") if m.subject_is_reply)
    code, out = _run(
        settings, "prompt", "run", "summarize_thread", "--sample", str(thread), "--var",
        "max_sentences=2", "--offline", "--prompts-dir", str(prompts_dir), "--json",
    )  # fmt: skip
    assert code == 0, out
    run = json.loads(out)
    assert run["prompt_id"] == "summarize_thread@2" and run["sample"] == thread
    assert run["values"]["max_sentences"] == "2" and len(run["values"]["messages"]) == 2
    assert run["schema"] == "ThreadSummaryDraft"
    assert set(json.loads(run["output"])) >= {"sentences"}
    assert run["completion_tokens"] > 0 and run["time_to_first_token_s"] > 0


def test_run_bad_input_exits_2_with_a_json_error(tmp_path: Path, offline: Services) -> None:
    settings = Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]
    for args, error in [
        (["assistant_chat", "--var", "nokey"], "input_error"),
        (["assistant_chat", "--var", "mood=x"], "input_error"),
        (["assistant_chat"], "prompt_error"),  # missing variable
        (["assistant_chat", "--sample", "m0000000000000"], "not_found"),
        (["assistant_chat", "--var", "question=x", "--prompts-dir", "/nonexistent"], "input_error"),
    ]:
        code, out = _run(settings, "prompt", "run", *args, "--offline", "--json")
        assert code == 2, (args, out)
        assert json.loads(out)["error"] == error, args


def test_run_prints_the_output(tmp_path: Path, offline: Services) -> None:
    settings = Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]
    code, out = _run(
        settings, "prompt", "run", "assistant_chat", "--var", "question=hi", "--offline"
    )
    assert code == 0 and out.startswith("[offline] read")
