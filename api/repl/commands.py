"""The REPL's ``/`` commands. Each handler takes the session, the text after the command name
and the terminal (:class:`Terminal`), changes the session and prints; errors are raised and
shown by the loop (:mod:`api.repl.app`), which keeps the session, edits included."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table

from api.repl import view
from api.repl.session import ReplSession
from core.errors import InputError
from prompts.render import (
    PromptError,
    list_prompts,
    load_prompt,
    prompt_overrides,
    render_prompt,
    save_prompt,
)


class Terminal(Protocol):
    """What commands need from the front end."""

    console: Console

    def edit_inline(self, text: str) -> str:
        """Let the user edit ``text`` in place (multi-line) and return the result."""
        ...


class Quit(Exception):  # noqa: N818 - a signal, not an error
    """Raised by ``/quit`` to end the loop."""


Handler = Callable[[ReplSession, str, Terminal], None]


@dataclass(frozen=True)
class Command:
    """A ``/`` command: its handler, argument synopsis and one-line help."""

    name: str
    handler: Handler
    args: str
    help: str


COMMANDS: dict[str, Command] = {}


def command(name: str, args: str, help: str) -> Callable[[Handler], Handler]:
    """Register a handler as ``/name``."""

    def register(fn: Handler) -> Handler:
        COMMANDS[name] = Command(name, fn, args, help)
        return fn

    return register


def dispatch(session: ReplSession, line: str, term: Terminal) -> None:
    """Run one input line (``/name args``); a line without ``/`` is a ``/chat`` message."""
    line = line.strip()
    if not line:
        return
    if not line.startswith("/"):
        COMMANDS["chat"].handler(session, line, term)
        return
    name, _, arg = line[1:].partition(" ")
    cmd = COMMANDS.get(name.lower())
    if cmd is None:
        raise InputError(f"unknown command /{name}; /help lists the commands")
    cmd.handler(session, arg.strip(), term)


def _traced(session: ReplSession, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` with the span recorder collecting (for ``/trace``)."""
    if session.recorder is not None:
        session.recorder.begin()
    try:
        return fn()
    finally:
        if session.recorder is not None:
            session.recorder.collect()


# -- prompts -------------------------------------------------------------------------------


@command("help", "", "list the commands")
def _help(session: ReplSession, arg: str, term: Terminal) -> None:
    table = Table(title="commands", show_header=False)
    for cmd in COMMANDS.values():
        table.add_row(f"/{cmd.name} {cmd.args}".strip(), cmd.help)
    term.console.print(table)
    term.console.print("A line without a leading / is sent to the assistant (/chat).")


@command("prompts", "", "list the prompt files")
def _prompts(session: ReplSession, arg: str, term: Terminal) -> None:
    from api.repl.evals import registered_suites

    suites = set(registered_suites())
    table = Table(title=f"prompts in {session.prompts_dir}")
    for col in ("name", "version", "eval", "description"):
        table.add_column(col, overflow="fold")
    current = session.working.name if session.working else None
    for name in list_prompts(session.prompts_dir):
        p = load_prompt(name, session.prompts_dir)
        mark = "* " if name == current else ""
        table.add_row(mark + name, str(p.version), "yes" if name in suites else "-",
                      " ".join(p.description.split())[:70])  # fmt: skip
    term.console.print(table)


@command("use", "NAME", "edit prompt NAME (a working copy; the file changes only on /save)")
def _use(session: ReplSession, arg: str, term: Terminal) -> None:
    if not arg:
        raise InputError("usage: /use NAME (see /prompts)")
    working = session.use(arg)
    prompt = working.prompt()
    names = ", ".join(v.name for v in prompt.variables) or "none"
    edited = " [yellow](your unsaved edits; /revert drops them)[/]" if working.dirty else ""
    term.console.print(f"using [bold]{prompt.id}[/]{edited} · variables: {names}")


@command("revert", "", "drop the unsaved edits: reload the working copy from its file")
def _revert(session: ReplSession, arg: str, term: Terminal) -> None:
    working = session.use(session.require_prompt().name, reload=True)
    term.console.print(f"reloaded {working.prompt().id} from {working.path}")


@command("show", "[raw|rendered]", "the working copy, raw and rendered with the variables")
def _show(session: ReplSession, arg: str, term: Terminal) -> None:
    working = session.require_prompt()
    if arg not in ("", "raw", "rendered"):
        raise InputError("usage: /show [raw|rendered]")
    dirty = " (edited, unsaved)" if working.dirty else ""
    if arg in ("", "raw"):
        term.console.rule(f"{working.name} raw{dirty}")
        term.console.print(view.prompt_source(working.text))
    if arg in ("", "rendered"):
        prompt = working.prompt()
        term.console.rule(f"{prompt.id} rendered")
        # markup=False: rendered mail text must never be read as rich markup.
        term.console.print(
            render_prompt(prompt, **session.values_for(prompt)), markup=False, highlight=False
        )


@command("edit", "", "edit the working copy in $EDITOR (inline when no editor is set)")
def _edit(session: ReplSession, arg: str, term: Terminal) -> None:
    working = session.require_prompt()
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if editor:
        text = _edit_in_editor(editor, working.text, working.name)
    else:
        term.console.print("[dim]editing inline: Esc then Enter (or Alt+Enter) to finish[/]")
        text = term.edit_inline(working.text)
    if not text.endswith("\n"):
        text += "\n"
    working.text = text  # kept even if it does not parse: the user fixes it with /edit
    prompt = working.prompt()
    term.console.print(
        f"working copy of {prompt.name} updated ({'edited' if working.dirty else 'unchanged'})"
    )


def _edit_in_editor(editor: str, text: str, name: str) -> str:
    with tempfile.TemporaryDirectory(prefix="mailmind-edit-") as tmp:
        path = Path(tmp) / f"{name}.md"
        path.write_text(text, encoding="utf-8")
        done = subprocess.run([*shlex.split(editor), str(path)], check=False)
        if done.returncode != 0:
            raise InputError(f"editor {editor!r} exited with {done.returncode}; edits not taken")
        return path.read_text(encoding="utf-8")


@command("vars", "", "the declared variables and their values")
def _vars(session: ReplSession, arg: str, term: Terminal) -> None:
    prompt = session.require_prompt().prompt()
    table = Table(title=f"variables of {prompt.id}")
    for col in ("name", "required", "untrusted", "value", "description"):
        table.add_column(col, overflow="fold")
    for v in prompt.variables:
        value = session.values.get(v.name)
        shown = "[red]unset[/]" if value is None else _preview(value)
        table.add_row(v.name, "yes" if v.required else "no", "yes" if v.untrusted else "no",
                      shown, v.description)  # fmt: skip
    term.console.print(table)
    if session.sample is not None:
        term.console.print(f"[dim]sample: {session.sample.kind} {session.sample.id}[/]")


def _preview(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    text = text.replace("\n", "⏎ ").replace("[", r"\[")
    return text[:80] + ("…" if len(text) > 80 else "")


@command("set", "VAR VALUE", "set a declared variable (a JSON list for list variables)")
def _set(session: ReplSession, arg: str, term: Terminal) -> None:
    name, _, value = arg.partition(" ")
    if not name:
        raise InputError("usage: /set VAR VALUE")
    prompt = session.require_prompt().prompt()
    declared = {v.name for v in prompt.variables}
    if name not in declared:
        raise PromptError(f"{prompt.id} does not declare {name!r}; declared: {sorted(declared)}")
    parsed: Any = value
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value  # plain text that happens to start with a bracket
    session.values[name] = parsed
    term.console.print(f"{name} = {_preview(parsed)}", markup=False)


@command("unset", "VAR", "forget a variable's value")
def _unset(session: ReplSession, arg: str, term: Terminal) -> None:
    if session.values.pop(arg, None) is None:
        raise InputError(f"{arg!r} is not set")
    term.console.print(f"{arg} unset")


@command("sample", "ID|QUERY|FILE.eml", "fill the variables from a message, thread, search or .eml")
def _sample(session: ReplSession, arg: str, term: Terminal) -> None:
    from api.repl.samples import load_sample

    prompt = session.require_prompt().prompt()
    sample = load_sample(session.services.store, session.user, arg)
    filled = sample.values(prompt, session.user)
    session.sample = sample
    session.values.update(filled)
    rest = [v.name for v in prompt.variables if v.required and v.name not in session.values]
    term.console.print(
        f"sample {sample.kind} {sample.id} (thread of {len(sample.messages)}): "
        f"{sample.subject!r}", markup=False,
    )  # fmt: skip
    term.console.print(f"filled: {', '.join(sorted(filled)) or 'nothing'}")
    if rest:
        term.console.print(f"[yellow]still unset:[/] {', '.join(rest)} (use /set)")
    if sample.alternatives:
        term.console.print(f"[dim]other hits: {' '.join(sample.alternatives)}[/]")


# -- generation ----------------------------------------------------------------------------


@command("run", "", "render the working copy and generate (streams with /stream on)")
def _run(session: ReplSession, arg: str, term: Terminal) -> None:
    def token(text: str) -> None:
        term.console.print(text, end="", markup=False, highlight=False)

    run = session.run(on_token=token if session.stream else None)
    if session.stream:
        term.console.print()
    else:
        term.console.rule(f"output #{run.number}")
        term.console.print(run.output, markup=False, highlight=False)
    term.console.print(view.run_stats(run))


@command("runs", "", "this session's runs")
def _runs(session: ReplSession, arg: str, term: Terminal) -> None:
    if not session.runs:
        term.console.print("no runs yet: /run")
        return
    term.console.print(view.runs_table(session.runs))


@command("stream", "on|off", "stream tokens as they are generated")
def _stream(session: ReplSession, arg: str, term: Terminal) -> None:
    session.stream = _on_off(arg, session.stream, "/stream on|off")
    term.console.print(f"stream {'on' if session.stream else 'off'}")


def _on_off(arg: str, current: bool, usage: str) -> bool:
    if arg == "":
        return not current
    if arg.lower() in ("on", "true", "1", "yes"):
        return True
    if arg.lower() in ("off", "false", "0", "no"):
        return False
    raise InputError(f"usage: {usage}")


MODEL_OPTIONS = ("temperature", "max_tokens", "seed", "constrained", "runtime", "model")


@command(
    "model",
    "[OPTION VALUE]",
    "show the model; set runtime|model|temperature|max_tokens|seed|constrained",
)
def _model(session: ReplSession, arg: str, term: Terminal) -> None:
    if arg:
        key, _, value = arg.partition(" ")
        opts = session.options
        try:
            if key == "temperature":
                opts.temperature = _bounded(float(value), 0.0, 2.0, key)
            elif key == "max_tokens":
                opts.max_tokens = int(_bounded(int(value), 1, 8192, key))
            elif key == "seed":
                opts.seed = None if value.lower() in ("none", "") else int(value)
            elif key == "constrained":
                opts.constrained = _on_off(value, opts.constrained, "/model constrained on|off")
            elif key in ("runtime", "model"):
                if not value:
                    raise InputError(f"usage: /model {key} NAME")
                with term.console.status(f"loading {key} {value}…"):
                    session.switch_model(**{key: value})
            else:
                raise InputError(f"unknown option {key!r}; options: {', '.join(MODEL_OPTIONS)}")
        except ValueError as exc:
            raise InputError(f"bad value for {key}: {value!r}") from exc
    rt = session.runtime
    term.console.print(view.model_table(rt.kind, rt.model_name, session.options, session.stream))


def _bounded(value: float, low: float, high: float, name: str) -> float:
    if not low <= value <= high:
        raise InputError(f"{name} must be between {low:g} and {high:g}")
    return value


@command("diff", "", "the last two outputs and the prompt versions that made them")
def _diff(session: ReplSession, arg: str, term: Terminal) -> None:
    if len(session.runs) < 2:
        raise InputError("/diff needs two runs; /run twice (e.g. before and after an /edit)")
    a, b = session.runs[-2], session.runs[-1]
    name_a, name_b = f"run #{a.number} {a.prompt_version}", f"run #{b.number} {b.prompt_version}"
    prompt_diff = view.unified(a.prompt_text, b.prompt_text, name_a, name_b)
    term.console.rule("prompt")
    term.console.print(view.diff_view(prompt_diff) if prompt_diff else "prompts identical")
    output_diff = view.unified(a.output, b.output, name_a, name_b)
    term.console.rule("output")
    term.console.print(view.diff_view(output_diff) if output_diff else "outputs identical")


# -- evaluation and saving -------------------------------------------------------------------

#: Examples ``/eval`` runs when no N is given.
DEFAULT_EVAL_N = 20


@command("eval", "[N]", "this prompt's eval suite on N examples vs. the saved baseline")
def _eval(session: ReplSession, arg: str, term: Terminal) -> None:
    from api.repl.evals import run_eval, score_rows

    working = session.require_prompt()
    prompt = working.prompt()
    try:
        limit = int(arg) if arg else DEFAULT_EVAL_N
    except ValueError as exc:
        raise InputError(f"usage: /eval [N]; {arg!r} is not a number") from exc
    label = f"{prompt.id}{' (edited)' if working.dirty else ''}"
    with term.console.status(f"evaluating {label} on {limit} examples…"):
        report = _traced(session, lambda: run_eval(prompt, limit=limit, services=session.services))
    term.console.print(view.scores_table(report, score_rows(report)))


@command("save", "NOTE", "write the working copy back as a new version, NOTE in its changelog")
def _save(session: ReplSession, arg: str, term: Terminal) -> None:
    working = session.require_prompt()
    if not arg:
        raise InputError("usage: /save NOTE (one line for the changelog)")
    saved = save_prompt(working.text, working.name, arg, session.prompts_dir)
    text = saved.path.read_text(encoding="utf-8")
    working.text = working.saved_text = text
    term.console.print(f"saved [bold]{saved.id}[/] to {saved.path}")


# -- the assistant -------------------------------------------------------------------------


@command("chat", "MESSAGE", "ask the assistant graph (the working copy in place of its file)")
def _chat(session: ReplSession, arg: str, term: Terminal) -> None:
    from api.repl.chat import chat_turn

    if not arg:
        raise InputError("usage: /chat MESSAGE")
    overrides = {}
    if session.working is not None:
        overrides[session.working.name] = session.working.prompt()
    with prompt_overrides(overrides):
        turn = _traced(session, lambda: chat_turn(
            session.services, session.user, arg, session.conversation,
        ))  # fmt: skip
    session.conversation = turn.conversation
    for call in turn.calls:
        term.console.print(f"[cyan]tool[/] {call['name']}({json.dumps(call['args'])})", markup=True)
        status = "ok" if call["ok"] else "error"
        term.console.print(f"  ↳ {status}: {call['result'][:300]}", markup=False, highlight=False)
    term.console.print(turn.answer, markup=False, highlight=False)
    cites = " ".join(turn.citations) or "none"
    term.console.print(f"[dim]citations: {cites} · conversation {turn.conversation}[/]")


@command("trace", "", "spans and timings of the last /run, /chat or /eval")
def _trace(session: ReplSession, arg: str, term: Terminal) -> None:
    spans = session.recorder.last if session.recorder is not None else []
    if not spans:
        term.console.print("no trace yet: /run or /chat first")
        return
    term.console.print(view.trace_table(spans))


@command("quit", "", "leave the REPL (unsaved edits are reported)")
def _quit(session: ReplSession, arg: str, term: Terminal) -> None:
    dirty = [d.name for d in session.drafts.values() if d.dirty]
    if dirty:
        term.console.print(f"[yellow]unsaved edits dropped: {', '.join(dirty)}[/]")
    raise Quit


COMMANDS["exit"] = Command("exit", _quit, "", "same as /quit")
