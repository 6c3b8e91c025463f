"""What the REPL added to :mod:`prompts.render`: saving a new version with a changelog entry,
the strict check that refuses a save, working-copy overrides and a configurable folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from prompts.render import (
    PROMPTS_DIR,
    PromptError,
    load_prompt,
    prompt_overrides,
    prompts_directory,
    render,
    save_prompt,
)


def test_save_bumps_the_version_and_appends_the_changelog(prompts_dir: Path) -> None:
    path = prompts_dir / "assistant_chat.md"
    text = path.read_text().replace("Reply briefly", "Reply very briefly")
    first = save_prompt(text, "assistant_chat", "shorter replies", prompts_dir)
    second = save_prompt(path.read_text(), "assistant_chat", 'say "hi" first', prompts_dir)
    assert (first.version, second.version) == (2, 3)
    assert [(e["version"], e["note"]) for e in second.changelog] == [
        (2, "shorter replies"), (3, 'say "hi" first'),
    ]  # fmt: skip
    assert "Reply very briefly" in second.template
    # Everything but the version line and the changelog is written as given.
    assert path.read_text().count("name: assistant_chat") == 1
    assert load_prompt("assistant_chat", PROMPTS_DIR).version == 1  # the real file is untouched


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t + "{{ mood }}\n", "undeclared variables in the template \\['mood'\\]"),
        (lambda t: t.replace("{{ question }}", "the question"), "missing in the template"),
        (lambda t: t + "{% if %}\n", "template error"),
        (lambda t: t.replace("name: assistant_chat", "name: other"), "must match the file name"),
        (lambda t: "no front matter\n", "front-matter"),
    ],
)
def test_save_refuses_what_the_strict_renderer_rejects(
    prompts_dir: Path, change: object, message: str
) -> None:
    path = prompts_dir / "assistant_chat.md"
    before = path.read_text()
    with pytest.raises(PromptError, match=message):
        save_prompt(change(before), "assistant_chat", "note", prompts_dir)  # type: ignore[operator]
    assert path.read_text() == before


def test_save_needs_a_one_line_note(prompts_dir: Path) -> None:
    text = (prompts_dir / "assistant_chat.md").read_text()
    for note in ("", "two\nlines"):
        with pytest.raises(PromptError, match="one non-empty line"):
            save_prompt(text, "assistant_chat", note, prompts_dir)


def test_overrides_and_directory_apply_to_name_only_loads(prompts_dir: Path) -> None:
    saved = save_prompt(
        (prompts_dir / "assistant_chat.md").read_text().replace("kindly", "warmly"),
        "assistant_chat", "warmer", prompts_dir,
    )  # fmt: skip
    assert "kindly" in render("assistant_chat", question="hi")
    with prompts_directory(prompts_dir):
        assert load_prompt("assistant_chat").version == 2
        assert "warmly" in render("assistant_chat", question="hi")
        override = load_prompt("assistant_chat", PROMPTS_DIR)
        with prompt_overrides({"assistant_chat": override}):
            assert load_prompt("assistant_chat") is override
            assert load_prompt("assistant_chat", prompts_dir) == saved  # explicit folder wins
        assert load_prompt("assistant_chat").version == 2
    assert load_prompt("assistant_chat").version == 1
