"""``mailmind actions list|approve|reject``: JSON output, exit codes, user binding, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer

from api.cli import build_app
from core.settings import Settings
from retrieval.store.actions import open_action_store
from tests.api.cli.test_users_keys import run, run_json

ARGS = {"to": ["alice@example.com"], "subject": "Budget", "body": "Soon."}


@pytest.fixture
def cli(tmp_path: Path) -> tuple[typer.Typer, Settings]:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    return build_app(settings), settings


def _create(settings: Settings, user: str = "demo", age_s: int = 0) -> str:
    store = open_action_store(settings)
    try:
        return store.create(
            user, tool="save_draft", args=ARGS, provenance={}, flags=["a flag"],
            summary="Save a draft to alice@example.com: Budget", ttl_s=60,
            now=datetime.now(UTC) - timedelta(seconds=age_s),
        ).id  # fmt: skip
    finally:
        store.close()


def test_list_approve_reject(cli: tuple[typer.Typer, Settings]) -> None:
    app, settings = cli
    first, second = _create(settings), _create(settings)
    listed = run_json(app, "actions", "list", "--user", "demo", "--status", "pending")
    assert {a["id"] for a in listed["actions"]} == {first, second}
    assert run_json(app, "actions", "list", "--user", "eve")["actions"] == []
    human = run(app, "actions", "list", "--user", "demo").stdout
    assert first in human and "⚠ a flag" in human

    # Another user's id is not found (exit 2); the action stays pending.
    err = run_json(app, "actions", "approve", first, "--user", "eve", code=2)
    assert err["error"] == "not_found"
    done = run_json(app, "actions", "approve", first, "--user", "demo")
    assert done["status"] == "executed" and done["result"]["status"] == "draft"
    assert run_json(app, "actions", "approve", first, "--user", "demo", code=2)["error"] == (
        "action_conflict"
    )
    assert run_json(app, "actions", "reject", second, "--user", "demo")["status"] == "rejected"


def test_expired_approval_is_a_clear_error(cli: tuple[typer.Typer, Settings]) -> None:
    app, settings = cli
    old = _create(settings, age_s=300)
    res = run(app, "actions", "approve", old, "--user", "demo", code=2)
    assert "expired" in res.stderr
    assert run_json(app, "actions", "list", "--user", "demo")["actions"][0]["status"] == "expired"
