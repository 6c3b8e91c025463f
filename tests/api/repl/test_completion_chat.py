"""Tab completion from the session's state, and ``/chat`` through the assistant graph offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from api.repl.completion import ReplCompleter
from api.repl.session import ReplSession
from api.services import Services
from tests.api.repl.conftest import drive


def _complete(completer: ReplCompleter, text: str) -> list[str]:
    found = completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
    return [c.text for c in found]


def test_completion(offline: Services, prompts_dir: Path) -> None:
    session = ReplSession(offline, "demo", prompts_dir)
    completer = ReplCompleter(session)
    assert _complete(completer, "/sa") == ["sample", "save"]
    assert _complete(completer, "/use summarize_t") == ["summarize_thread"]
    assert _complete(completer, "/set ") == []  # no prompt in use yet
    session.use("summarize_thread")
    assert _complete(completer, "/set m") == ["messages", "max_sentences"]
    session.values["subject"] = "x"
    assert _complete(completer, "/unset ") == ["subject"]
    ids = _complete(completer, "/sample ")
    stored = offline.store.list_messages("demo")
    assert {m.id for m in stored} | {m.thread_id for m in stored} == set(ids)
    assert _complete(completer, "/model con") == ["constrained"]
    assert _complete(completer, "/model constrained o") == ["on", "off"]
    assert _complete(completer, "plain text") == []


def test_chat_shows_tool_calls_results_and_citations(
    offline: Services, prompts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retrieval.index.embeddings import HashEmbedder

    # The router's encoder is patched at the process edge (no MiniLM load in a unit test).
    monkeypatch.setattr(
        "retrieval.index.embeddings.load_embedder", lambda _cfg: HashEmbedder(dim=384)
    )
    offline.index_user("demo")
    session, out = drive(offline, prompts_dir, ["/chat find the invoice from acme", "/trace"])
    assert session.conversation is not None
    assert "tool " in out and "↳ ok" in out
    cited = out.split("citations: ", 1)[1].split(" · ")[0].split()
    known = {m.id for m in offline.store.list_messages("demo")}
    assert cited and set(cited) <= known
    assert "trace" in out and "duration ms" in out


def test_model_switch_keeps_the_old_model_on_bad_input(
    offline: Services, prompts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agents.llm.chat_model import MailmindChatModel
    from agents.llm.fake import FakeChatRuntime

    loaded: list[str] = []

    def fake_get_chat_model(settings: object, **defaults: object) -> MailmindChatModel:
        runtime = settings.llm.runtime  # type: ignore[attr-defined]
        loaded.append(runtime)
        return MailmindChatModel(runtime=FakeChatRuntime(["switched"], model_name=runtime))

    # Loading real weights is the process edge patched here; the swap itself is what is tested.
    monkeypatch.setattr("agents.llm.get_chat_model", fake_get_chat_model)
    offline.__dict__["assistant"] = object()  # a graph built over the old model
    session, out = drive(offline, prompts_dir, [
        "/model runtime nonsense", "/model runtime transformers", "/use assistant_chat",
        "/set question hi", "/model constrained off", "/run",
    ])  # fmt: skip
    assert "error (input_error): /model runtime:" in out
    assert loaded == ["transformers"]
    assert session.runs[0].model == "transformers" and session.runs[0].output == "switched"
    assert offline.settings.llm.runtime == "transformers"
    assert "assistant" not in offline.__dict__  # rebuilt over the new model on the next /chat
