"""``/eval``: the runner registered for the prompt runs with the working copy in place of the
file, and the scores table shows the working copy beside the saved baseline and the baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.repl.evals import score_rows
from api.services import Services
from prompts.render import Prompt, load_prompt
from tests.api.repl.conftest import drive


def test_eval_runs_the_working_copy(
    offline: Services, prompts_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[str, int, str]] = []

    def runner(prompt: Prompt, *, limit: int, services: Services) -> dict[str, Any]:
        # What the agents would load during the eval: the REPL's working copy.
        loaded = load_prompt(prompt.name)
        seen.append((prompt.name, limit, loaded.template))
        assert services is offline
        return {
            "suite": "aeslc-subjects", "n": limit, "metric": "rouge1", "score": 0.42,
            "ci": [0.30, 0.55],
            "baselines": [{"name": "lead_sentence", "score": 0.30, "ci": [0.2, 0.4]}],
            "saved": {"score": 0.40, "ci": [0.28, 0.52], "version": "summarize_message@1"},
        }  # fmt: skip

    monkeypatch.setattr(
        "api.repl.evals.find_eval_runner",
        lambda name: runner if name == "summarize_message" else None,
    )
    editor = tmp_path / "editor.sh"
    editor.write_text(
        "#!/bin/sh\nsed -i 's/Reply with JSON only./Reply with JSON only, briefly./' \"$1\"\n"
    )
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)  # it would win over EDITOR
    _, out = drive(offline, prompts_dir, [
        "/use summarize_message", "/edit", "/eval 7", "/trace", "/use assistant_chat", "/eval",
        "/eval x",
    ])  # fmt: skip
    assert len(seen) == 1
    name, limit, template = seen[0]
    assert (name, limit) == ("summarize_message", 7)
    assert "Reply with JSON only, briefly." in template  # the edit, not the file
    assert "aeslc-subjects · rouge1 · n=7" in out
    assert "repl.eval" in out and "mailmind.eval.n=7" in out  # /trace of the eval
    assert "saved baseline (summarize_message@1)" in out and "+0.020" in out
    assert "lead_sentence" in out and "+0.120" in out and "[0.300, 0.550]" in out
    # No runner for assistant_chat: a clear error, not a crash; then a bad N.
    assert "error (no_eval_suite): no eval suite is registered for prompt 'assistant_chat'" in out
    assert "error (input_error): usage: /eval [N]" in out
    # After the eval the override is gone: load_prompt reads the file again.
    assert "briefly" not in load_prompt("summarize_message", prompts_dir).template


def test_score_rows_deltas() -> None:
    rows = score_rows({"suite": "s", "n": 3, "metric": "m", "score": 0.5, "ci": [0.4, 0.6],
                       "baselines": [{"name": "b", "score": 0.6, "ci": [0.5, 0.7]}],
                       "saved": None})  # fmt: skip
    assert [r["name"] for r in rows] == ["working copy", "b"]
    assert rows[0]["delta"] is None and rows[1]["delta"] == pytest.approx(-0.1)
