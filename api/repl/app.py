"""The interactive loop of ``mailmind repl`` (prompt_toolkit): history kept across runs, tab
completion, and one rule for errors: a failing command prints its cause and the loop goes on
with the session (working copy, variables, runs) untouched."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from rich.console import Console
from rich.text import Text

from api.repl.commands import Quit, dispatch
from api.repl.completion import ReplCompleter
from api.repl.session import ReplSession
from api.repl.tracing import SpanRecorder
from core.errors import MailmindError
from prompts.render import prompts_directory

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from api.services import Services
    from core.settings import Settings


def repl_services(settings: Settings, *, offline: bool) -> Services:
    """Services for the REPL; ``offline`` puts the scripted model (:mod:`api.repl.offline`) in
    place of the configured one, so no weights are loaded."""
    from api.services import Services

    services = Services(settings)
    if offline:
        from agents.llm.chat_model import MailmindChatModel
        from api.repl.offline import offline_runtime

        # ``chat_model`` is a cached_property: setting it first means it is never built.
        services.__dict__["chat_model"] = MailmindChatModel(
            runtime=offline_runtime(), max_tokens=settings.agent.answer_tokens, temperature=0.0
        )
    return services


class PromptToolkitTerminal:
    """The terminal commands print to and edit in."""

    def __init__(self, console: Console, prompt_session: PromptSession[str]) -> None:
        self.console = console
        self.prompt_session = prompt_session

    def edit_inline(self, text: str) -> str:
        """Multi-line editing of ``text``; Esc Enter (or Alt+Enter) accepts."""
        return self.prompt_session.prompt("edit> ", default=text, multiline=True)


def _prompt_label(session: ReplSession) -> str:
    if session.working is None:
        return "mailmind> "
    try:
        pid = session.working.prompt().id
    except MailmindError:
        pid = f"{session.working.name}@?"
    return f"mailmind[{pid}{'*' if session.working.dirty else ''}]> "


def run_repl(
    services: Services,
    user: str,
    *,
    prompts_dir: Path,
    history_path: Path | None = None,
    console: Console | None = None,
    input: Input | None = None,
    output: Output | None = None,
) -> ReplSession:
    """Read and run commands until ``/quit`` or end of input; returns the final session.

    ``input``/``output`` (tests: a pipe input and ``DummyOutput``) default to the terminal."""
    console = console or Console()
    recorder = SpanRecorder()
    session = ReplSession(services, user, prompts_dir, recorder=recorder)
    history: History = InMemoryHistory()
    if history_path is not None:
        history_path.parent.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(history_path))
    prompt_session: PromptSession[str] = PromptSession(
        history=history, completer=ReplCompleter(session), input=input, output=output,
        complete_while_typing=False,
    )  # fmt: skip
    term = PromptToolkitTerminal(console, prompt_session)
    console.print(f"mailmind prompt lab · user {user} · model {_model_label(session)} · /help")
    recorder.install()
    try:
        with prompts_directory(prompts_dir):
            _loop(session, prompt_session, term)
    finally:
        recorder.uninstall()
    return session


def _model_label(session: ReplSession) -> str:
    chat_model: Any = session.services.__dict__.get("chat_model")
    if chat_model is not None:
        return f"{chat_model.runtime.kind}/{chat_model.runtime.model_name}"
    return session.services.settings.llm.model + " (loads on first /run)"


def _loop(
    session: ReplSession, prompt_session: PromptSession[str], term: PromptToolkitTerminal
) -> None:
    while True:
        try:
            line = prompt_session.prompt(_prompt_label(session))
        except KeyboardInterrupt:
            continue  # Ctrl-C clears the line, as in a shell
        except EOFError:
            break
        try:
            dispatch(session, line, term)
        except Quit:
            break
        except MailmindError as exc:
            term.console.print(Text.assemble(("error", "bold red"), f" ({exc.code}): {exc}"))
        except KeyboardInterrupt:
            term.console.print(Text("interrupted", style="yellow"))
        except Exception as exc:  # noqa: BLE001 - one broken command must not end the session
            term.console.print(
                Text.assemble(("unexpected error", "bold red"), f" {type(exc).__name__}: {exc}")
            )
