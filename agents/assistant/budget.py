"""Prompt budgets: every prompt is cut to fit the model's context *before* the model is called.

A 135M model has 4,096 tokens of context. A tool result can be far longer (a search echoing a
100 kB question was 54 kB), and finding that out from the runtime after the tools ran wasted a
turn and ended it with an error. Here the evidence blocks of a prompt are trimmed, largest first,
until the rendered prompt, the tokens the model may generate and a safety margin fit.

Tokens are counted with the model's own tokenizer when its runtime exposes one
(``runtime.prompt_ids``: llama.cpp, transformers); otherwise with a conservative estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import InputError

#: Tokens kept free for chat-template markup and tokenizer differences between estimates.
MARGIN_TOKENS = 48
#: What a trimmed block ends with, so the model (and a reader of the trace) knows it was cut.
TRIM_MARK = " …[cut to fit]"

TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """A deliberately high token estimate: UTF-8 bytes / 3 (English BPE averages ~4 chars)."""
    return len(text.encode("utf-8")) // 3 + 1


def token_counter(model: Any) -> TokenCounter:
    """Count tokens as ``model`` will: its runtime's tokenizer, else :func:`estimate_tokens`."""
    prompt_ids = getattr(getattr(model, "runtime", None), "prompt_ids", None)
    if not callable(prompt_ids):
        return estimate_tokens

    def count(text: str) -> int:
        try:
            return len(prompt_ids([{"role": "user", "content": text}]))
        except Exception:  # noqa: BLE001 - a tokenizer hiccup must not end the turn
            return estimate_tokens(text)

    return count


@dataclass(slots=True)
class PromptBudget:
    """How many prompt tokens one call may use: the context minus what the model may generate.

    ``context_length=None`` means unknown (remote or scripted models): prompts pass unchanged.
    """

    context_length: int | None
    count: TokenCounter = estimate_tokens
    margin: int = MARGIN_TOKENS

    def limit(self, generate: int) -> int | None:
        """Prompt tokens allowed when the model may generate ``generate`` tokens."""
        if self.context_length is None:
            return None
        return self.context_length - generate - self.margin

    def fit(
        self, render: Callable[[list[str]], str], blocks: Sequence[str], *, generate: int
    ) -> str:
        """``render(blocks)`` with the blocks trimmed so the prompt fits; the largest blocks are
        cut first and small ones kept whole. Raises :class:`InputError` when even the prompt
        without any evidence does not fit (the question itself is too long for the model)."""
        items = list(blocks)
        prompt = render(items)
        limit = self.limit(generate)
        if limit is None or self.count(prompt) <= limit:
            return prompt
        overhead = self.count(render(["" for _ in items]))
        if overhead > limit:
            raise InputError(
                f"the question does not fit the model's context of {self.context_length} tokens "
                "(MAILMIND_LLM__CONTEXT_LENGTH): ask a shorter question"
            )
        available = limit - overhead
        for _ in range(6):
            caps = _shares([self.count(b) for b in items], available)
            items = [_cut(b, cap, self.count(b)) for b, cap in zip(items, caps, strict=True)]
            prompt = render(items)
            over = self.count(prompt) - limit
            if over <= 0:
                return prompt
            # Token counts of pieces do not add up exactly: shrink the target and try again.
            available = max(0, available - over - self.margin)
        return render(["" for _ in items])


def _shares(costs: list[int], available: int) -> list[int]:
    """Water-filling: blocks under an equal share keep everything, the rest split what is left."""
    caps = list(costs)
    remaining = max(0, available)
    order = sorted(range(len(costs)), key=lambda i: costs[i])
    for n, i in enumerate(order):
        share = remaining // (len(order) - n)
        caps[i] = min(costs[i], share)
        remaining -= caps[i]
    return caps


def _cut(block: str, cap: int, cost: int) -> str:
    """The start of ``block`` in about ``cap`` tokens (proportional in characters)."""
    if cost <= cap:
        return block
    if cap <= 0:
        return ""
    keep = max(0, int(len(block) * cap / max(cost, 1)) - len(TRIM_MARK))
    return block[:keep].rstrip() + TRIM_MARK
