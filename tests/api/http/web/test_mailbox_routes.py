"""The API routes the web client added for every client: ``GET /v1/folders``, ``GET
/v1/messages`` (pages, newest first, unread, one-line summary) and ``GET
/v1/conversations/{id}``, over the demo data through the real app; isolation between users
included (listed as covered in ``tests/api/http/test_cross_tenant.py``)."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from api.services import Services
from core.settings import REPO_ROOT
from retrieval.store.base import INBOX
from tests.api.http.conftest import Keys, auth

pytestmark = pytest.mark.integration


def _maildir_unread() -> int:
    """Unread messages of the demo Maildir, read from its file names (not from mailmind)."""
    root = REPO_ROOT / "demo" / "mail"
    new = [p for p in (root / "new").iterdir() if p.is_file()]
    cur = [p for p in (root / "cur").iterdir() if "S" not in p.name.rsplit(":2,", 1)[-1]]
    return len(new) + len(cur)


async def test_folders_count_messages_and_unread(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    r = await client.get("/v1/folders", headers=auth(keys.demo))
    assert r.status_code == 200
    folders = {f["name"]: f for f in r.json()["folders"]}
    stats = http_services.store.stats("demo").folders
    assert {name or INBOX: n for name, n in stats.items()} == {
        name: f["messages"] for name, f in folders.items()
    }
    assert folders[INBOX]["unread"] == _maildir_unread() > 0
    assert sum(f["unread"] for f in folders.values()) == _maildir_unread()


async def test_message_pages_cover_the_folder_newest_first(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    seen: list[dict[str, object]] = []
    offset: int | None = 0
    while offset is not None:
        r = await client.get(
            "/v1/messages", params={"offset": offset, "limit": 7}, headers=auth(keys.demo)
        )
        assert r.status_code == 200
        page = r.json()
        assert len(page["messages"]) <= 7
        seen += page["messages"]
        offset = page["next_offset"]
    ids = [m["id"] for m in seen]
    assert len(ids) == len(set(ids)) == page["total"]
    assert set(ids) == http_services.store.message_ids("demo")
    dates = [datetime.fromisoformat(str(m["date"])) for m in seen if m["date"]]
    assert dates == sorted(dates, reverse=True)
    assert sum(bool(m["unread"]) for m in seen) == _maildir_unread()
    # Each row's summary is text of that message (its own part), not of another one.
    for row in seen[:10]:
        message = http_services.store.get_message("demo", str(row["id"]))
        assert message is not None
        words = str(row["summary"]).split()
        assert words and " ".join(words[:3]) in " ".join(message.body_text.split())


async def test_message_list_of_one_folder_and_of_an_unknown_one(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    folders = (await client.get("/v1/folders", headers=auth(keys.demo))).json()["folders"]
    for folder in folders:
        r = await client.get(
            "/v1/messages", params={"folder": folder["name"], "limit": 100},
            headers=auth(keys.demo),
        )  # fmt: skip
        body = r.json()
        assert body["total"] == folder["messages"] == len(body["messages"])
        assert {m["folder"] for m in body["messages"]} == {folder["name"]}
    r = await client.get("/v1/messages", params={"folder": "nope"}, headers=auth(keys.demo))
    assert r.status_code == 200
    assert (r.json()["total"], r.json()["messages"], r.json()["next_offset"]) == (0, [], None)
    r = await client.get("/v1/messages", params={"limit": 0}, headers=auth(keys.demo))
    assert r.status_code == 422


async def test_lists_are_per_user(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    r = await client.get("/v1/messages", params={"limit": 100}, headers=auth(keys.eve))
    assert {m["id"] for m in r.json()["messages"]} == http_services.store.message_ids("eve")
    r = await client.get("/v1/folders", headers=auth(keys.eve))
    total = sum(f["messages"] for f in r.json()["folders"])
    assert total == len(http_services.store.message_ids("eve"))
    assert (await client.get("/v1/folders")).status_code == 401
    assert (await client.get("/v1/messages")).status_code == 401


async def test_conversation_ids_are_checked_and_unknown_ones_are_404(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    # Reading a conversation back is tested end to end in test_browser.py (after a reload).
    r = await client.get("/v1/conversations/never-asked", headers=auth(keys.demo))
    assert r.status_code == 404 and r.json()["title"] == "not found"
    r = await client.get("/v1/conversations/-bad", headers=auth(keys.demo))
    assert r.status_code == 422
    assert (await client.get("/v1/conversations/never-asked")).status_code == 401


async def test_streamed_draft_of_another_users_message_is_a_404_before_the_stream(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    demo_only = http_services.store.message_ids("demo") - http_services.store.message_ids("eve")
    headers = {**auth(keys.eve), "Accept": "text/event-stream"}
    r = await client.post("/v1/drafts", json={"message_id": min(demo_only)}, headers=headers)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    documented = (await client.get("/openapi.json")).json()["paths"]["/v1/drafts"]["post"]
    assert "text/event-stream" in documented["responses"]["200"]["content"]
