"""The REPL's state: the prompt being edited (a working copy of its file), the variables, the
model options and the runs of this session. Commands change it; nothing here prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.repl.runner import ModelOptions, RunResult
from core.errors import ConfigError, InputError
from prompts.render import Prompt, PromptError, load_prompt, parse_prompt_text

if TYPE_CHECKING:
    from agents.llm.types import ChatRuntime
    from api.repl.samples import Sample
    from api.repl.tracing import SpanRecorder
    from api.services import Services


@dataclass
class WorkingCopy:
    """The text of a prompt file being edited, and the version it started from."""

    name: str
    text: str
    saved_text: str
    path: Path

    @property
    def dirty(self) -> bool:
        """Whether the working copy differs from the file as last loaded or saved."""
        return self.text != self.saved_text

    def prompt(self) -> Prompt:
        """The working copy parsed (a broken front-matter is a :class:`PromptError`)."""
        try:
            return parse_prompt_text(self.text, self.path)
        except ConfigError as exc:
            raise PromptError(f"working copy of {self.name}: {exc}") from exc


@dataclass
class ReplSession:
    """Everything a REPL command may read or change."""

    services: Services
    user: str
    prompts_dir: Path
    recorder: SpanRecorder | None = None
    working: WorkingCopy | None = None
    values: dict[str, Any] = field(default_factory=dict)
    sample: Sample | None = None
    options: ModelOptions = field(default_factory=ModelOptions)
    stream: bool = False
    runs: list[RunResult] = field(default_factory=list)
    conversation: str | None = None
    #: Working copies by prompt name: switching prompts with /use keeps unsaved edits.
    drafts: dict[str, WorkingCopy] = field(default_factory=dict)

    @property
    def runtime(self) -> ChatRuntime:
        """The chat runtime of the session's model (the scripted one when offline)."""
        runtime: ChatRuntime = self.services.chat_model.runtime  # type: ignore[attr-defined]
        return runtime

    def switch_model(self, **llm: str) -> None:
        """Load another runtime or model (``runtime=...``, ``model=...``: the ``llm`` settings)
        in place of the current one; on failure the current one stays."""
        from pydantic import ValidationError

        from agents.llm import get_chat_model
        from core.settings import LLMSettings

        settings = self.services.settings
        try:
            section = LLMSettings.model_validate({**settings.llm.model_dump(), **llm})
        except ValidationError as exc:
            problem = exc.errors()[0]
            raise InputError(f"/model {' '.join(llm)}: {problem['msg']}") from exc
        new_settings = settings.model_copy(update={"llm": section})
        model = get_chat_model(
            new_settings, max_tokens=settings.agent.answer_tokens, temperature=0.0
        )
        old = self.services.__dict__.get("chat_model")
        self.services.settings = new_settings
        self.services.__dict__["chat_model"] = model
        # The assistant graph was compiled over the old model: rebuilt on the next /chat.
        self.services.__dict__.pop("assistant", None)
        close = getattr(getattr(old, "runtime", None), "close", None)
        if callable(close):
            close()

    def require_prompt(self) -> WorkingCopy:
        """The working copy, or a clear error when no prompt is in use."""
        if self.working is None:
            raise PromptError("no prompt in use: pick one with /use NAME (see /prompts)")
        return self.working

    def use(self, name: str, *, reload: bool = False) -> WorkingCopy:
        """Edit prompt ``name``: its earlier working copy of this session (unsaved edits kept)
        unless ``reload``, else the file. Variables it does not declare are dropped."""
        draft = None if reload else self.drafts.get(name)
        if draft is None:
            prompt = load_prompt(name, self.prompts_dir)
            text = prompt.path.read_text(encoding="utf-8")
            draft = self.drafts[name] = WorkingCopy(name, text, text, prompt.path)
        self.working = draft
        return draft

    def values_for(self, prompt: Prompt) -> dict[str, Any]:
        """The session's values of the variables ``prompt`` declares (values set for other
        prompts are kept for when the user switches back)."""
        declared = {v.name for v in prompt.variables}
        return {k: v for k, v in self.values.items() if k in declared}

    def run(self, on_token: Callable[[str], None] | None = None) -> RunResult:
        """Render the working copy with the variables and generate: ``/run`` and
        ``mailmind prompt run`` both come here. The run is numbered and kept in :attr:`runs`."""
        from api.repl.runner import run_prompt

        working = self.require_prompt()
        prompt = working.prompt()
        if self.recorder is not None:
            self.recorder.begin()
        try:
            run = run_prompt(
                prompt, self.values_for(prompt), self.runtime, self.options,
                prompt_text=working.text, on_token=on_token,
            )  # fmt: skip
        finally:
            if self.recorder is not None:
                self.recorder.collect()
        run.sample = self.sample.id if self.sample is not None else None
        run.draft = working.dirty
        run.number = len(self.runs) + 1
        self.runs.append(run)
        return run
