"""One real terminal session: ``mailmind repl --user demo`` in tmux with the real model.

The REPL reads and saves a temporary copy of the prompts (``MAILMIND_PROMPTS_DIR``), so the
repository's prompt files are never touched. The screen is read back with ``capture-pane``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.settings import REPO_ROOT, Settings
from prompts.render import PROMPTS_DIR, load_prompt
from tests.agents.llm.conftest import llm_settings  # noqa: F401 - the real model, pulled once
from tests.api.repl.conftest import copy_prompts

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.server]

#: Longest wait for one screen state (model load on a busy machine included).
WAIT_S = 120


class Tmux:
    """A tmux server of its own (``-L``) running one session."""

    def __init__(self, socket: str, session: str) -> None:
        self.socket, self.session = socket, session

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def send(self, line: str) -> None:
        # -l: the text literally (no key-name lookup), then Enter as a key.
        self.tmux("send-keys", "-t", self.session, "-l", line)
        self.tmux("send-keys", "-t", self.session, "Enter")

    def screen(self) -> str:
        """The pane with its scrollback, wrapped lines joined."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-500", "-t", self.session)

    def wait_for(self, check: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{self.screen()}")


@pytest.fixture
def tmux_repl(tmp_path: Path, llm_settings: Settings) -> Iterator[tuple[Tmux, Path, Path]]:  # noqa: F811
    """The REPL started in tmux over a temp data dir that shares the real model cache."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (scripts/install-test-servers.sh installs it)")
    data = tmp_path / "data"
    data.mkdir()
    (data / "models").symlink_to(llm_settings.model_cache_dir.resolve())
    prompts = copy_prompts(tmp_path / "prompts")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILMIND_")}
    env.update(MAILMIND_DATA_DIR=str(data), MAILMIND_PROMPTS_DIR=str(prompts),
               HF_HUB_OFFLINE="1", TERM="xterm-256color")  # fmt: skip
    env.pop("EDITOR", None)
    env.pop("VISUAL", None)
    tmux = Tmux(f"mailmind-test-{uuid.uuid4().hex[:8]}", "repl")
    # The shell keeps the pane open after the REPL ends, with its exit status on screen.
    command = f'{sys.executable} -m api.cli repl --user demo; echo "[exited $?]"; sleep 600'
    subprocess.run(
        ["tmux", "-L", tmux.socket, "-f", "/dev/null", "new-session", "-d", "-s", tmux.session,
         "-x", "200", "-y", "50", "-c", str(REPO_ROOT), command],
        check=True, env=env,
    )  # fmt: skip
    try:
        yield tmux, prompts, data
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], check=False)


def test_repl_in_a_real_terminal(tmux_repl: tuple[Tmux, Path, Path]) -> None:
    tmux, prompts, data = tmux_repl
    before = (PROMPTS_DIR / "assistant_chat.md").read_text()
    tmux.wait_for(lambda s: "mailmind>" in s, "the prompt")
    tmux.send("/use assistant_chat")
    tmux.wait_for(lambda s: "using assistant_chat@1" in s, "/use")
    tmux.send("/set question What can you help me with?")
    tmux.send("/model max_tokens 24")
    tmux.send("/run")
    screen = tmux.wait_for(lambda s: "run #1 ·" in s, "the run")
    output = screen.split("output #1", 1)[1].split("run #1 ·", 1)[0]
    output = "\n".join(line for line in output.splitlines()[1:] if line.strip())
    stats = screen.split("run #1 ·", 1)[1].splitlines()[0]
    assert output.strip(), screen  # the real model wrote something
    assert "assistant_chat@1" in stats and "smollm2" in stats and "fake" not in stats
    assert "completion tokens" in stats
    tmux.send("/save answer in one sentence")
    tmux.wait_for(lambda s: "saved assistant_chat@2" in s, "/save")
    saved = load_prompt("assistant_chat", prompts)
    assert saved.version == 2 and saved.changelog[-1]["note"] == "answer in one sentence"
    assert (PROMPTS_DIR / "assistant_chat.md").read_text() == before
    tmux.send("/quit")
    tmux.wait_for(lambda s: "[exited 0]" in s, "a clean exit")
    history = (data / "repl_history").read_text()
    assert "/use assistant_chat" in history and "/save answer in one sentence" in history
