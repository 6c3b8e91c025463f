"""The REPL's command flow through scripted input with the offline model: use, sample, set, run,
diff, save; every error is shown and the session (edits included) survives it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.repl.offline import OFFLINE_MODEL
from api.services import Services
from prompts.render import load_prompt
from tests.api.repl.conftest import drive


def _ids(services: Services) -> tuple[str, str, str]:
    """(invoice message id, reply message id, thread id of the sensor thread)."""
    messages = {m.subject: m for m in services.store.list_messages("demo")}
    invoice = messages["Invoice 4411 for November"]
    reply = messages["Re: Sensor swap at Alder Creek"]
    assert reply.thread_id
    return invoice.id, reply.id, reply.thread_id


def test_use_sample_run_and_save(offline: Services, prompts_dir: Path) -> None:
    invoice, _, _ = _ids(offline)
    session, out = drive(offline, prompts_dir, [
        "/use summarize_message", f"/sample {invoice}", "/run", "/model constrained off", "/run",
        "/runs", "/diff", "/save ask for a shorter subject",
    ])  # fmt: skip
    assert len(session.runs) == 2
    first, second = session.runs
    # Constrained: the output is the prompt's schema; unconstrained: free text.
    assert first.schema == "MessageSummaryDraft" and set(json.loads(first.output)) == {
        "summary", "subject",
    }  # fmt: skip
    assert second.schema is None and second.output.startswith("[offline]")
    assert first.sample == invoice and "invoice 4411" in first.rendered.lower()
    assert first.model == OFFLINE_MODEL and first.completion_tokens > 0
    assert first.prompt_tokens > 0 and first.time_to_first_token_s > 0
    assert "run #2" in out and "TTFT" in out
    # The file changed: version 2 with the changelog entry; the working copy is clean again.
    saved = load_prompt("summarize_message", prompts_dir)
    assert saved.version == 2
    assert saved.changelog[-1]["note"] == "ask for a shorter subject"
    assert session.working is not None and not session.working.dirty
    assert "saved summarize_message@2" in out


def test_thread_sample_fills_numbered_messages(offline: Services, prompts_dir: Path) -> None:
    _, _, thread = _ids(offline)
    session, out = drive(offline, prompts_dir, ["/use summarize_thread", f"/sample {thread}"])
    assert session.sample is not None and len(session.sample.messages) == 2
    messages = session.values["messages"]
    assert [m.split("]")[0] for m in messages] == ["[1", "[2"]
    assert session.values["subject"] == "Sensor swap at Alder Creek"
    assert session.values["max_sentences"] == 5
    assert "filled: max_sentences, messages, subject" in out
    # A message id: single-message variables from it, the thread as context.
    _, reply, _ = _ids(offline)
    session, _ = drive(offline, prompts_dir, ["/use draft_reply", f"/sample {reply}"])
    assert session.sample is not None and len(session.sample.messages) == 2
    assert session.values["sender"] == "Dana Reyes <dana@example.com>"
    assert session.values["email"].startswith("Great news, thanks.")


def test_sample_by_search_and_eml(offline: Services, prompts_dir: Path, mail_dir: Path) -> None:
    invoice, _, _ = _ids(offline)
    session, _ = drive(offline, prompts_dir, ["/use summarize_message", "/sample invoice due"])
    assert session.sample is not None and session.sample.kind == "search"
    assert session.sample.id == invoice
    session, _ = drive(offline, prompts_dir, [
        "/use summarize_message", f"/sample {mail_dir / '1.eml'}",
    ])  # fmt: skip
    assert session.sample is not None and session.sample.kind == "eml"
    assert "replacement sensors" in session.values["text"]


def test_errors_are_shown_and_nothing_is_lost(offline: Services, prompts_dir: Path) -> None:
    session, out = drive(offline, prompts_dir, [
        "/run",                                   # no prompt yet
        "/use no_such_prompt",                    # unknown prompt
        "/use summarize_message",
        "/run",                                   # missing variable
        "/set text The meeting moved to Thursday.",
        "/set not_declared x",                    # undeclared variable
        "/sample m0000000000000",                 # unknown message id
        "/sample /nonexistent/x.eml",             # missing file
        "/model temperature hot",                 # bad option value
        "/frobnicate",                            # unknown command
        "/diff",                                  # needs two runs
        "/save",                                  # needs a note
        "/run",                                   # still works after all that
    ])  # fmt: skip
    errors = [line for line in out.splitlines() if line.startswith("error (")]
    assert len(errors) == 10, out
    assert any("no prompt in use" in e for e in errors)
    assert any("unknown prompt 'no_such_prompt'" in e for e in errors)
    assert any("missing variables ['text']" in e for e in errors)
    assert any("does not declare 'not_declared'" in e for e in errors)
    assert any(e.startswith("error (not_found)") for e in errors)
    assert len(session.runs) == 1 and session.values == {"text": "The meeting moved to Thursday."}


def test_broken_edit_is_kept_and_save_refuses(
    offline: Services, prompts_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # An "editor" that adds an undeclared variable to the template.
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Also mention {{ tone }}.\\n" >> "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    before = (prompts_dir / "summarize_message.md").read_text()
    session, out = drive(offline, prompts_dir, [
        "/use summarize_message", "/edit", "/set text hello", "/run", "/save add tone",
    ])  # fmt: skip
    assert session.working is not None and "{{ tone }}" in session.working.text
    assert session.working.dirty
    assert (prompts_dir / "summarize_message.md").read_text() == before  # refused: unchanged
    assert "undeclared variables in the template ['tone']" in out
    assert session.runs == []  # the strict renderer refused the run too


def test_inline_edit_without_editor(
    offline: Services, prompts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    # Inline editing starts from the working copy; ESC+Enter accepts the multi-line buffer.
    session, _ = drive(offline, prompts_dir, [
        "/use assistant_chat", "/edit", "Be brief.\x1b\r", "/show raw",
    ])  # fmt: skip
    assert session.working is not None
    assert session.working.text.rstrip().endswith("Be brief.")
    assert session.working.prompt().name == "assistant_chat"


def test_diff_shows_prompt_and_output_changes(
    offline: Services, prompts_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text(
        "#!/bin/sh\nsed -i 's/You summarise emails./You summarise emails tersely./' \"$1\"\n"
    )
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)  # it would win over EDITOR
    session, out = drive(offline, prompts_dir, [
        "/use summarize_message", "/set text Lunch on Friday?", "/model constrained off", "/run",
        "/edit", "/run", "/diff", "/trace",
    ])  # fmt: skip
    assert len(session.runs) == 2
    first, second = session.runs
    assert (first.draft, second.draft) == (False, True)
    assert second.prompt_version.startswith("summarize_message@1+edit ")
    assert f"+++ run #2 {second.prompt_version}" in out
    assert "-You summarise emails. {{ untrusted_notice }}" in out
    assert "+You summarise emails tersely. {{ untrusted_notice }}" in out
    # The offline model echoes the prompt's first line, so the outputs differ too.
    assert session.runs[0].output != session.runs[1].output
    assert "repl.run" in out and "chat offline-scripted" in out  # the trace's spans


def test_switching_prompts_keeps_edits_until_revert(
    offline: Services, prompts_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/kindly/warmly/' \"$1\"\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)  # it would win over EDITOR
    session, out = drive(offline, prompts_dir, [
        "/use assistant_chat", "/edit", "/set question hi", "/use summarize_message",
        "/set text hello", "/use assistant_chat", "/stream on", "/run", "/revert", "/stream off",
        "/run",
    ])  # fmt: skip
    first, second = session.runs
    assert "warmly" in first.rendered and "kindly" in second.rendered  # edit kept, then dropped
    assert first.values == {"question": "hi"}  # only what the prompt declares is rendered
    assert session.values == {"question": "hi", "text": "hello"}
    assert "(your unsaved edits; /revert drops them)" in out
    # Streaming prints the tokens as they come instead of an "output #n" block.
    assert "output #1" not in out and first.output in out and "output #2" in out
