"""`mailmind users` and `mailmind keys`: JSON output, exit codes, keys shown once and revocable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from api.cli import build_app
from core.settings import Settings
from retrieval.store.keys import open_key_store


@pytest.fixture
def cli(tmp_path: Path) -> tuple[typer.Typer, Settings]:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    return build_app(settings), settings


def run(app: typer.Typer, *args: str, code: int = 0) -> Result:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == code, (res.stdout, res.stderr)
    return res


def run_json(app: typer.Typer, *args: str, code: int = 0) -> Any:
    res = run(app, *args, "--json", code=code)
    lines = [line for line in res.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, res.stdout  # exactly one JSON object on stdout
    return json.loads(lines[0])


def test_users_add_list_delete(cli: tuple[typer.Typer, Settings]) -> None:
    app, _ = cli
    assert run_json(app, "users", "add", "alice") == {"user": "alice", "created": True}
    assert run_json(app, "users", "add", "alice") == {"user": "alice", "created": False}
    run_json(app, "users", "add", "bob")
    run_json(app, "keys", "create", "--user", "bob")
    listed = run_json(app, "users", "list")["users"]
    assert listed == [
        {"user": "alice", "messages": 0, "api_keys": 0},
        {"user": "bob", "messages": 0, "api_keys": 1},
    ]
    out = run_json(app, "users", "delete", "bob", "--yes")
    assert out["user"] == "bob"
    assert out["removed"]["mail.users"] == 1 and out["removed"]["keys.api_keys"] == 1
    assert [u["user"] for u in run_json(app, "users", "list")["users"]] == ["alice"]
    # Human output names what was removed.
    run_json(app, "users", "add", "carol")
    human = run(app, "users", "delete", "carol", "--yes")
    assert "mail.users" in human.stdout


def test_users_delete_asks_unless_yes(cli: tuple[typer.Typer, Settings]) -> None:
    app, _ = cli
    run_json(app, "users", "add", "alice")
    res = CliRunner().invoke(app, ["users", "delete", "alice"], input="n\n")
    assert res.exit_code == 2
    assert [u["user"] for u in run_json(app, "users", "list")["users"]] == ["alice"]
    res = CliRunner().invoke(app, ["users", "delete", "alice"], input="y\n")
    assert res.exit_code == 0, res.stderr
    assert run_json(app, "users", "list")["users"] == []


@pytest.mark.parametrize("bad", ["../etc", "", "a b", "x/y", "a\tb"])
def test_bad_user_ids_exit_2(cli: tuple[typer.Typer, Settings], bad: str) -> None:
    app, _ = cli
    for args in (
        ("users", "add", bad),
        ("users", "delete", bad, "--yes"),
        ("keys", "create", "--user", bad),
    ):
        out = run_json(app, *args, code=2)
        assert out["error"] == "input_error", args
    assert run_json(app, "users", "list")["users"] == []


def test_unknown_user_and_unknown_key_are_not_found(cli: tuple[typer.Typer, Settings]) -> None:
    app, _ = cli
    out = run_json(app, "users", "delete", "ghost", "--yes", code=2)
    assert out["error"] == "not_found"
    out = run_json(app, "keys", "create", "--user", "ghost", code=2)
    assert out["error"] == "not_found"
    out = run_json(app, "keys", "revoke", "0123456789ab", code=2)
    assert out["error"] == "not_found" and "0123456789ab" in out["message"]


def test_keys_create_list_revoke(cli: tuple[typer.Typer, Settings]) -> None:
    app, settings = cli
    run_json(app, "users", "add", "alice")
    run_json(app, "users", "add", "bob")
    made = run_json(app, "keys", "create", "--user", "alice", "--name", "laptop")
    assert set(made) == {"key_id", "key", "user", "scopes"}
    assert made["user"] == "alice" and made["scopes"] == ["user"]
    admin = run_json(app, "keys", "create", "--user", "bob", "--admin")
    assert admin["scopes"] == ["admin", "user"]
    # Human output: the key alone on stdout, once.
    human = run(app, "keys", "create", "--user", "bob")
    token = human.stdout.strip()
    assert token.startswith("mm_") and "\n" not in token

    listed = run_json(app, "keys", "list")["keys"]
    assert [k["user"] for k in listed].count("bob") == 2
    text = json.dumps(listed) + run(app, "keys", "list").stdout
    for secret in (made["key"], admin["key"], token):
        assert secret not in text and secret.removeprefix("mm_").split("_", 1)[1] not in text
    assert all("secret" not in key and "hash" not in json.dumps(key) for key in listed)
    only = run_json(app, "keys", "list", "--user", "alice")["keys"]
    assert [(k["key_id"], k["name"], k["revoked"]) for k in only] == [
        (made["key_id"], "laptop", False)
    ]

    store = open_key_store(settings)
    try:
        assert store.verify(made["key"]) is not None
        out = run_json(app, "keys", "revoke", made["key_id"])
        assert out == {"key_id": made["key_id"], "user": "alice", "revoked": True}
        assert store.verify(made["key"]) is None  # a revoked key stops working at once
        assert store.verify(admin["key"]) is not None
    finally:
        store.close()
    assert run_json(app, "keys", "list", "--user", "alice")["keys"][0]["revoked"] is True
    assert run_json(app, "users", "list")["users"][0]["api_keys"] == 0  # live keys only
