"""End to end with the real SmolLM2-135M and real retrieval (MiniLM + Qdrant Edge) over the demo
data. Asserts structure, never prose: valid tool calls, citations that exist, summary sentences
that cite messages of the thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.assistant.run import ask
from agents.summarize.thread import summarize_thread
from api.services import Services
from core.settings import REPO_ROOT, Settings
from tests.agents.conftest import NOW

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, llm_settings: Settings) -> Iterator[Services]:
    data = Path(tmp_path_factory.mktemp("e2e"))
    (data / "models").symlink_to(llm_settings.model_cache_dir)
    settings = Settings(data_dir=data, _env_file=None)  # type: ignore[call-arg]
    settings.agent.answer_tokens = 48  # structure, not prose, is under test: keep it short
    services = Services(settings)
    for part in ("mail", "calendar", "contacts"):
        services.ingest_path("demo", REPO_ROOT / "demo" / part)
    yield services
    services.close()


def _exists(services: Services, cid: str) -> bool:
    if services.store.get_message("demo", cid) is not None:
        return True
    if services.store.get_thread("demo", cid) is not None:
        return True
    if any(c.uid == cid for c in services.pim.contacts.contacts("demo")):
        return True
    events = services.pim.calendars.events_between(
        "demo", NOW.replace(year=2026, month=10), NOW.replace(year=2027, month=2)
    )
    return any(e.uid == cid for e in events)


@pytest.mark.parametrize(
    ("question", "first_tool"),
    [
        ("what was the unit price in the housing quote?", "search_mailbox"),
        ("what's on my calendar next week?", "list_events"),
        ("what is Kenji's phone number?", "lookup_contacts"),
        ("am I free on Monday afternoon for an hour?", "find_free_time"),
    ],
)
def test_real_model_tool_calls_and_citations(
    real: Services, question: str, first_tool: str
) -> None:
    ctx = real.agent_context("demo", now=NOW, timezone="America/Los_Angeles")
    res = ask(real.assistant, ctx, question)
    assert res.tool_calls and res.tool_calls[0].name == first_tool
    assert all(c.ok for c in res.tool_calls), res.tool_calls
    assert res.answer.strip()
    for cid in res.citations:
        assert _exists(real, cid), cid


# The same real-model summary path runs through the API in test_agents_routes.py.
@pytest.mark.heavy
def test_real_model_summary_cites_thread_messages(real: Services) -> None:
    row = real.store.conn.execute(  # type: ignore[attr-defined]
        "SELECT id FROM threads WHERE user_id='demo' ORDER BY message_count DESC LIMIT 1"
    ).fetchone()
    summary = summarize_thread(
        real.store, "demo", row[0], model=real.chat_model, embedder=real.embedder
    )
    _, messages = real.store.get_thread("demo", row[0])  # type: ignore[misc]
    ids = {m.id for m in messages}
    assert 2 <= len(summary.sentences) <= 5
    assert all(s.citations and set(s.citations) <= ids for s in summary.sentences)
    assert summary.method in ("abstractive", "extractive")
    if summary.method == "extractive":
        assert summary.fallback_reason
