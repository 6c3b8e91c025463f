"""Tab completion: command names, then per command prompt names, variables, ids or options."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from api.repl.commands import COMMANDS, MODEL_OPTIONS
from api.repl.session import ReplSession
from core.errors import MailmindError
from prompts.render import list_prompts

#: Recent messages whose ids ``/sample`` completes.
ID_CANDIDATES = 50


class ReplCompleter(Completer):
    """Completes the REPL's input from the session's state."""

    def __init__(self, session: ReplSession) -> None:
        self.session = session
        self._ids: list[str] | None = None

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/"):
            return
        if " " not in text:
            yield from _matching(text[1:], (f"{n}" for n in COMMANDS), prefix_len=len(text) - 1)
            return
        name, _, rest = text[1:].partition(" ")
        if " " in rest and name not in ("model",):
            return  # only the first argument is completed
        yield from _matching(rest.split(" ")[-1], self.candidates(name, rest))

    def candidates(self, name: str, rest: str) -> list[str]:
        """What may follow ``/name`` given the argument text so far."""
        try:
            if name == "use":
                return list_prompts(self.session.prompts_dir)
            if name == "set" and self.session.working is not None:
                return [v.name for v in self.session.working.prompt().variables]
            if name == "unset":
                return list(self.session.values)
            if name == "sample":
                return self.ids()
            if name == "show":
                return ["raw", "rendered"]
            if name == "stream":
                return ["on", "off"]
            if name == "model":
                if " " in rest:
                    values = {
                        "constrained": ["on", "off"],
                        "seed": ["none"],
                        "runtime": ["auto", "llamacpp", "transformers", "openai"],
                    }
                    return values.get(rest.split(" ", maxsplit=1)[0], [])  # fmt: skip
                return list(MODEL_OPTIONS)
        except MailmindError:
            return []  # a broken working copy or store: no completions rather than an error
        return []

    def ids(self) -> list[str]:
        """Message and thread ids of the user's newest mail (read once per session)."""
        if self._ids is None:
            messages = self.session.services.store.list_messages(
                self.session.user, limit=ID_CANDIDATES
            )
            ids: list[str] = []
            for m in messages:
                ids.append(m.id)
            threads = {getattr(m, "thread_id", None) for m in messages} - {None}
            self._ids = ids + sorted(str(t) for t in threads)
        return self._ids


def _matching(
    word: str, options: Iterable[str], prefix_len: int | None = None
) -> Iterator[Completion]:
    for option in options:
        if option.startswith(word):
            yield Completion(
                option, start_position=-len(word) if prefix_len is None else -prefix_len
            )
