"""Feedback: the store (per-user rows, edit distance, rates) and ``POST /v1/feedback`` /
``GET /v1/feedback/stats`` over the real app (targets must be the key's user's)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.services import Services
from core.errors import InputError
from retrieval.store.feedback import FeedbackRecord, FeedbackStore
from tests.api.http.conftest import Keys, auth

PROBLEM = "application/problem+json"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeedbackStore]:
    """A feedback store on a fresh SQLite file."""
    feedback = FeedbackStore(sqlite3.connect(tmp_path / "mailmind.sqlite3"))
    yield feedback
    feedback.close()


# -- the store -------------------------------------------------------------------------------


def test_edit_distance_is_computed_by_the_store(store: FeedbackStore) -> None:
    rid = store.add("alice", FeedbackRecord(kind="draft", suggestion="kitten", sent_text="sitting"))
    (row,) = store.list("alice")
    assert row.id == rid
    assert row.record.edit_distance == 3
    assert row.record.edit_distance_norm == pytest.approx(3 / 7)
    # A client-supplied distance is ignored: the store computes its own.
    store.add(
        "alice",
        FeedbackRecord(kind="draft", suggestion="abc", sent_text="abc", edit_distance=99),
    )
    assert store.list("alice", limit=1)[0].record.edit_distance == 0


def test_stats_rates(store: FeedbackStore) -> None:
    shown = ["Yes", "No", "Later"]
    store.add("alice", FeedbackRecord(kind="chip", chip_chosen=1, chips_shown=shown))
    store.add("alice", FeedbackRecord(kind="chip", chip_chosen=None, chips_shown=shown))
    store.add("alice", FeedbackRecord(kind="chip", chip_chosen=0, chips_shown=shown))
    store.add("alice", FeedbackRecord(kind="chip", rating="down", reason="too formal"))
    store.add("alice", FeedbackRecord(kind="answer", rating="up"))
    store.add("alice", FeedbackRecord(kind="summary", rating="up"))
    store.add("alice", FeedbackRecord(kind="draft", suggestion="ab", sent_text="abcd"))
    stats = store.stats("alice")
    assert stats["total"] == 7
    assert stats["by_kind"] == {"chip": 4, "answer": 1, "summary": 1, "draft": 1}
    # The rated chip row is a rating, not a choice.
    assert stats["chip"] == {"choices": 3, "chosen": 2, "acceptance_rate": pytest.approx(2 / 3)}
    assert stats["ratings"] == {"up": 2, "down": 1, "up_rate": pytest.approx(2 / 3)}
    assert stats["edits"]["count"] == 1
    assert stats["edits"]["mean_distance"] == 2
    assert stats["edits"]["mean_normalized_distance"] == pytest.approx(0.5)


def test_rows_are_per_user(store: FeedbackStore) -> None:
    store.add("alice", FeedbackRecord(kind="answer", rating="up"))
    store.add("alice", FeedbackRecord(kind="chip", chip_chosen=0))
    store.add("bob", FeedbackRecord(kind="answer", rating="down"))
    assert [r.record.kind for r in store.list("alice")] == ["chip", "answer"]
    assert [r.record.kind for r in store.list("alice", kind="answer")] == ["answer"]
    assert store.stats("bob")["ratings"] == {"up": 0, "down": 1, "up_rate": 0.0}
    empty = store.stats("carol")
    assert empty["total"] == 0 and empty["chip"]["acceptance_rate"] is None
    assert empty["ratings"]["up_rate"] is None and empty["edits"]["mean_distance"] is None
    assert store.delete_user("alice") == 2
    assert store.list("alice") == [] and len(store.list("bob")) == 1


def test_a_v1_table_gains_the_prompt_version_column(tmp_path: Path) -> None:
    from retrieval.store.feedback import MIGRATIONS
    from retrieval.store.migrations import apply_migrations

    path = tmp_path / "mailmind.sqlite3"
    old = sqlite3.connect(path)
    apply_migrations(old, "feedback", MIGRATIONS[:1])  # a store written before version 2
    old.execute(
        "INSERT INTO feedback (user_id, kind, rating, created_at)"
        " VALUES ('alice', 'answer', 'up', '2026-01-01T00:00:00Z')"
    )
    old.commit()
    old.close()
    store = FeedbackStore(sqlite3.connect(path))
    store.add("alice", FeedbackRecord(kind="draft", rating="down", prompt_version="draft_reply@3"))
    rows = store.list("alice")
    assert [r.record.prompt_version for r in rows] == ["draft_reply@3", None]
    assert rows[1].record.rating == "up"  # the old row survived the migration
    store.close()


def test_schema_is_created_once(tmp_path: Path) -> None:
    path = tmp_path / "mailmind.sqlite3"
    first = FeedbackStore(sqlite3.connect(path))
    first.add("alice", FeedbackRecord(kind="answer", rating="up"))
    first.close()
    again = FeedbackStore(sqlite3.connect(path))
    assert len(again.list("alice")) == 1
    again.close()


@pytest.mark.parametrize(
    "record",
    [
        FeedbackRecord(kind="chip", chip_chosen=3, chips_shown=["a", "b"]),
        FeedbackRecord(kind="chip", chip_chosen=-1),
        FeedbackRecord(kind="answer", chip_chosen=0, rating="up"),
        FeedbackRecord(kind="draft", suggestion="only one side"),
        FeedbackRecord(kind="answer"),
        FeedbackRecord(kind="nope", rating="up"),  # type: ignore[arg-type]
        FeedbackRecord(kind="answer", rating="meh"),  # type: ignore[arg-type]
    ],
)
def test_inconsistent_records_are_refused(store: FeedbackStore, record: FeedbackRecord) -> None:
    with pytest.raises(InputError):
        store.add("alice", record)
    assert store.list("alice") == []


def test_user_ids_are_checked(store: FeedbackStore) -> None:
    with pytest.raises(InputError):
        store.add("../alice", FeedbackRecord(kind="answer", rating="up"))


# -- the routes ------------------------------------------------------------------------------


async def _stats(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    r = await client.get("/v1/feedback/stats", headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def _post(client: httpx.AsyncClient, key: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/feedback", json=body, headers=auth(key))


def _demo_ids(services: Services) -> tuple[str, str]:
    mid = sorted(services.store.message_ids("demo"))[0]
    message = services.store.get_message("demo", mid)
    assert message is not None and message.thread_id
    return mid, message.thread_id


@pytest.mark.integration
async def test_feedback_is_stored_and_counted(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    mid, tid = _demo_ids(http_services)
    before = await _stats(client, keys.demo)
    eve_before = await _stats(client, keys.eve)
    chips = ["Yes, Tuesday works.", "Can we do Wednesday?", "No, sorry."]

    r = await _post(
        client,
        keys.demo,
        {"kind": "chip", "target_id": mid, "chip_chosen": 1, "chips_shown": chips},
    )
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "chip" and r.json()["edit_distance"] is None
    r = await _post(client, keys.demo, {"kind": "chip", "target_id": mid, "chips_shown": chips})
    assert r.status_code == 201
    r = await _post(
        client,
        keys.demo,
        {"kind": "summary", "target_id": tid, "rating": "down", "reason": "vague"},
    )
    assert r.status_code == 201
    r = await _post(
        client,
        keys.demo,
        {"kind": "draft", "target_id": mid, "suggestion": "kitten", "sent_text": "sitting"},
    )
    assert r.status_code == 201
    assert r.json()["edit_distance"] == 3
    assert r.json()["edit_distance_norm"] == pytest.approx(3 / 7, abs=1e-6)
    r = await _post(client, keys.demo, {"kind": "answer", "target_id": "conv-42", "rating": "up"})
    assert r.status_code == 201

    after = await _stats(client, keys.demo)
    assert after["total"] == before["total"] + 5
    assert after["chip"]["choices"] == before["chip"]["choices"] + 2
    assert after["chip"]["chosen"] == before["chip"]["chosen"] + 1
    assert after["ratings"]["down"] == before["ratings"]["down"] + 1
    assert after["ratings"]["up"] == before["ratings"]["up"] + 1
    assert after["edits"]["count"] == before["edits"]["count"] + 1
    rows = http_services.feedback.list("demo", limit=5)
    assert [r.record.kind for r in rows] == ["answer", "draft", "summary", "chip", "chip"]
    assert rows[2].record.reason == "vague"
    # Each row carries the version in force: the prompt file's version, the chip set's hash.
    from agents.smart_reply.responses import load_responses
    from prompts.render import load_prompt

    versions = [r.record.prompt_version for r in rows]
    assert versions[:3] == [
        f"assistant_answer@{load_prompt('assistant_answer').version}",
        f"draft_reply@{load_prompt('draft_reply').version}",
        f"summarize_thread@{load_prompt('summarize_thread').version}",
    ]
    assert versions[3] == versions[4] == f"responses@{load_responses().sha256[:12]}"
    assert r.json()["prompt_version"] == versions[0]
    assert await _stats(client, keys.eve) == eve_before  # rows are per user


@pytest.mark.integration
async def test_feedback_on_another_users_ids_is_not_found(
    client: httpx.AsyncClient, keys: Keys, http_services: Services
) -> None:
    mid, tid = _demo_ids(http_services)
    eve_before = await _stats(client, keys.eve)
    made_up = await _post(client, keys.eve, {"kind": "chip", "target_id": "m" + "0" * 20})
    assert made_up.status_code == 404
    for body in (
        {"kind": "chip", "target_id": mid, "chip_chosen": None},
        {"kind": "draft", "target_id": mid, "suggestion": "a", "sent_text": "b"},
        {"kind": "summary", "target_id": tid, "rating": "up"},
        {"kind": "answer", "target_id": mid, "rating": "down"},
    ):
        r = await _post(client, keys.eve, body)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith(PROBLEM)
        assert {k: v for k, v in r.json().items() if k != "request_id"} == {
            k: v for k, v in made_up.json().items() if k != "request_id"
        }
    assert await _stats(client, keys.eve) == eve_before


@pytest.mark.integration
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"kind": "chip", "user": "demo", "chip_chosen": 0}, 422),  # no user field, ever
        ({"kind": "praise", "rating": "up"}, 422),
        ({"kind": "answer", "rating": "sideways"}, 422),
        ({"kind": "answer", "rating": "up", "target_id": "conv\n1"}, 422),
        ({"kind": "chip", "chip_chosen": -1}, 422),
        ({"kind": "chip", "chip_chosen": 5, "chips_shown": ["a"]}, 400),
        ({"kind": "answer"}, 400),
        ({"kind": "draft", "suggestion": "only one side"}, 400),
        ({"kind": "summary", "target_id": "not-a-thread", "rating": "up"}, 404),
    ],
)
async def test_bad_feedback_is_refused(
    client: httpx.AsyncClient, keys: Keys, body: dict[str, Any], status: int
) -> None:
    before = await _stats(client, keys.demo)
    r = await _post(client, keys.demo, body)
    assert r.status_code == status
    assert r.headers["content-type"].startswith(PROBLEM)
    assert await _stats(client, keys.demo) == before


@pytest.mark.integration
async def test_feedback_needs_a_key(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/feedback", json={"kind": "answer", "rating": "up"})
    assert r.status_code == 401
    r = await client.get("/v1/feedback/stats")
    assert r.status_code == 401
