"""``/v1/actions``: list, approve, reject; per-user isolation, single use, expiry, problem+json.

A small app of its own over an empty data dir (no model is loaded: approving runs the action
directly, as when no conversation of this process waits on it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.http.app import create_app
from api.services import Services
from core.settings import Settings
from retrieval.store.actions import StoredAction
from tests.api.http.conftest import auth

PROBLEM = "application/problem+json"
DRAFT = {"to": ["alice@example.com"], "subject": "Budget", "body": "Numbers attached soon."}
PROV = {
    "to": {"source": "user", "ids": [], "trusted": True, "note": "typed in your request"},
    "subject": {"source": "mail", "ids": ["m0123456789abcdef"], "trusted": False, "note": "x"},
    "body": {"source": "user", "ids": [], "trusted": True, "note": "your words"},
}


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    data = Path(tmp_path_factory.mktemp("actions-http"))
    services = Services(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    yield services
    services.close()


@pytest.fixture(scope="module")
def tokens(svc: Services) -> dict[str, str]:
    return {user: svc.keys.create(user, name="t")[1] for user in ("demo", "eve")}


@pytest.fixture
async def api(svc: Services) -> AsyncIterator[httpx.AsyncClient]:
    from asgi_lifespan import LifespanManager

    app = create_app(svc.settings, services=svc, warm=False)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def _pending(svc: Services, user: str = "demo", *, age_s: int = 0) -> StoredAction:
    return svc.actions.store.create(
        user, tool="save_draft", args=DRAFT, provenance=PROV,
        flags=["subject comes from mail content m0123456789abcdef (untrusted)"],
        summary="Save a draft to alice@example.com: Budget", ttl_s=60,
        now=datetime.now(UTC) - timedelta(seconds=age_s),
    )  # fmt: skip


async def test_list_shows_pending_actions_with_provenance(
    api: httpx.AsyncClient, svc: Services, tokens: dict[str, str]
) -> None:
    action = _pending(svc)
    got = await api.get("/v1/actions", params={"status": "pending"}, headers=auth(tokens["demo"]))
    assert got.status_code == 200
    listed = {a["id"]: a for a in got.json()["actions"]}
    assert listed[action.id]["provenance"]["subject"]["trusted"] is False
    assert listed[action.id]["flags"] and listed[action.id]["args"]["to"] == ["alice@example.com"]
    other = await api.get("/v1/actions", headers=auth(tokens["eve"]))
    assert action.id not in {a["id"] for a in other.json()["actions"]}
    assert (await api.get("/v1/actions")).status_code == 401


async def test_approve_runs_once_and_other_users_get_404(
    api: httpx.AsyncClient, svc: Services, tokens: dict[str, str]
) -> None:
    action = _pending(svc)
    url = f"/v1/actions/{action.id}/approve"
    stolen = await api.post(url, headers=auth(tokens["eve"]))
    assert stolen.status_code == 404 and stolen.headers["content-type"] == PROBLEM
    assert svc.actions.get("demo", action.id).status == "pending"
    ok = await api.post(url, headers=auth(tokens["demo"]))
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["status"] == "executed" and body["result"]["status"] == "draft"
    drafts = [d for d in svc.actions.store.outbox("demo", kind="draft")
              if d["action_id"] == action.id]  # fmt: skip
    assert len(drafts) == 1 and "Subject: Budget" in drafts[0]["raw"]
    again = await api.post(url, headers=auth(tokens["demo"]))
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    rejected_late = await api.post(f"/v1/actions/{action.id}/reject", headers=auth(tokens["demo"]))
    assert rejected_late.status_code == 409
    # Still exactly one draft: the refused decisions did nothing.
    assert [d["action_id"] for d in svc.actions.store.outbox("demo")].count(action.id) == 1


async def test_reject_and_expiry(
    api: httpx.AsyncClient, svc: Services, tokens: dict[str, str]
) -> None:
    action = _pending(svc)
    got = await api.post(f"/v1/actions/{action.id}/reject", headers=auth(tokens["demo"]))
    assert got.status_code == 200 and got.json()["status"] == "rejected"
    assert not [d for d in svc.actions.store.outbox("demo") if d["action_id"] == action.id]

    old = _pending(svc, age_s=120)
    gone = await api.post(f"/v1/actions/{old.id}/approve", headers=auth(tokens["demo"]))
    assert gone.status_code == 410 and gone.headers["content-type"] == PROBLEM
    assert gone.json()["type"].endswith("/action_expired")
    assert svc.actions.get("demo", old.id).status == "expired"

    bad = await api.post("/v1/actions/not-an-id/approve", headers=auth(tokens["demo"]))
    assert bad.status_code == 422
    unknown = await api.post("/v1/actions/act_0000000000000000/approve",
                             headers=auth(tokens["demo"]))  # fmt: skip
    assert unknown.status_code == 404
