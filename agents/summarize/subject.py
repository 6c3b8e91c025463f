"""Subject lines written by a chat model from the ``subject_line`` prompt.

The fine-tuned subject model (``mailmind finetune subject-lines``) is trained on exactly the input
:func:`email_text` builds and the prompt :func:`subject_prompt` renders, so training and serving
see the same text. :func:`clean_subject` turns whatever the model wrote into one short line, and
is also how training targets are normalised (no ``Re:``/``Fw:`` prefixes, no quotes).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

#: Characters of the email the prompt carries: subject lines are about the opening, and a short
#: input keeps a CPU training step and a generation cheap.
MAX_INPUT_CHARS = 400
MAX_WORDS = 10
#: Tokens a subject line may take (eight words is about 12 tokens; the rest is headroom).
MAX_TOKENS = 24

_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|tr)\s*(\[\d+\])?\s*:\s*)+", re.I)
_LABEL = re.compile(r"^\s*(subject(\s+line)?)\s*:\s*", re.I)
_QUOTES = "\"'`“”‘’*<>"


def email_text(body: str, max_chars: int = MAX_INPUT_CHARS) -> str:
    """The email as the prompt shows it: lines stripped, blank lines and runs of spaces dropped,
    cut at a word boundary after ``max_chars``."""
    lines = [" ".join(line.split()) for line in body.replace("\r\n", "\n").split("\n")]
    text = "\n".join(line for line in lines if line)
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    return cut[:space] if space > max_chars // 2 else cut


def clean_subject(text: str, max_words: int = MAX_WORDS) -> str:
    """One short subject line from a model's output or a sender's subject: the first non-empty
    line, without reply/forward prefixes, a ``Subject:`` label or surrounding quotes."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = _LABEL.sub("", line)
    line = _PREFIX.sub("", line).strip().strip(_QUOTES).strip()
    return " ".join(line.split()[:max_words])


def subject_prompt(body: str) -> str:
    """The rendered ``subject_line`` prompt for one email (the email spotlighted as data)."""
    from prompts import render

    return render("subject_line", text=email_text(body))


def model_subject(model: BaseChatModel, body: str) -> str:
    """The subject line ``model`` writes for ``body`` (greedy, one short line; "" on failure)."""
    try:
        out = model.invoke(subject_prompt(body), max_tokens=MAX_TOKENS, temperature=0.0)
    except Exception:  # noqa: BLE001 - a failed generation is an empty subject, not an error
        return ""
    content = out.content if isinstance(out.content, str) else str(out.content)
    return clean_subject(content)
