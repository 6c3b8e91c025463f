"""Neutralise text that tries to pass as part of the prompt instead of data.

Mail is written by anyone. Before its text reaches a prompt (and before a summary shows it as a
sentence) the sanitiser makes the tricks that target a language model visible and inert:

* chat-template tokens (``<|im_start|>``, ``</s>``, ``[INST]``, ``<<SYS>>``, ...) become
  ``[chat token removed: im_start]``;
* role markers at the start of a line ("SYSTEM:", "Assistant:", "### Instruction", ``<system>``)
  become ``[role marker removed: SYSTEM]``; weak markers ("User:", "Tool:") only where the text
  is a fake transcript (two markers or one strong one), so an IT ticket's "User: jsmith" stays;
* text that imitates the spotlight delimiters of :mod:`prompts.render` (``<<END 1a2b>>``, also
  written with fullwidth or look-alike characters: ``＜＜END 1a2b＞＞``, ``«ЕND»``) becomes
  ``[delimiter removed]``;
* invisible characters are removed: zero-width spaces and joiners, soft hyphens, BOMs, and bidi
  embeddings, overrides and isolates (they reorder what the user sees against what the model
  reads). ZWJ/ZWNJ are kept between non-Latin letters (Persian, Indic scripts and emoji need them)
  and LRM/RLM are kept in text that has right-to-left letters.

Ordinary prose is never rewritten: phrases such as "ignore previous instructions" are reported
as findings (for :mod:`agents.safety.phishing` and for attribution in summaries) and left as they
are, because a person may write them to a person.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

#: Kinds of finding, stable codes.
CHAT_TOKEN = "chat_token"
ROLE_MARKER = "role_marker"
FAKE_DELIMITER = "fake_delimiter"
INVISIBLE = "invisible_char"
BIDI = "bidi_control"
OVERRIDE = "override_phrase"
HIDDEN_HTML = "hidden_html"

#: Kinds that only an attack produces (``INVISIBLE`` and ``BIDI`` also occur in honest mail).
INJECTION_KINDS = frozenset({CHAT_TOKEN, ROLE_MARKER, FAKE_DELIMITER, OVERRIDE, HIDDEN_HTML})

#: What :mod:`retrieval.sources.mail.hidden` leaves where it dropped hidden HTML text.
HIDDEN_MARK = "[hidden text removed]"


@dataclass(slots=True, frozen=True)
class Finding:
    """One thing the sanitiser found: its kind and the original text."""

    kind: str
    text: str


@dataclass(slots=True, frozen=True)
class Sanitized:
    """Sanitised text and what was found in it."""

    text: str
    findings: tuple[Finding, ...]

    @property
    def kinds(self) -> set[str]:
        """The distinct kinds of finding."""
        return {f.kind for f in self.findings}

    @property
    def injection(self) -> bool:
        """Whether the text carries something only an injection attempt would."""
        return bool(self.kinds & INJECTION_KINDS)


# -- invisible characters -------------------------------------------------------------------------

_ALWAYS_INVISIBLE = "\u200b\u2060\u180e\ufeff\u00ad"
_JOINERS = "\u200c\u200d"
_MARKS = "\u200e\u200f"
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE_ANY = re.compile(f"[{_ALWAYS_INVISIBLE}{_JOINERS}{_MARKS}{_BIDI}]")


def _has_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in text)


def _strip_invisible(text: str, findings: list[Finding]) -> str:
    if not _INVISIBLE_ANY.search(text):
        return text
    rtl = _has_rtl(text)
    out: list[str] = []
    removed: list[str] = []
    for i, c in enumerate(text):
        if c in _BIDI:
            findings.append(Finding(BIDI, f"U+{ord(c):04X}"))
            continue
        if c in _MARKS and not rtl:
            removed.append(c)
            continue
        if c in _JOINERS:
            before = text[i - 1] if i else " "
            after = text[i + 1] if i + 1 < len(text) else " "
            # Joiners shape Persian, Indic and emoji sequences; between ASCII they only hide words.
            if before.isascii() and after.isascii():
                removed.append(c)
                continue
        if c in _ALWAYS_INVISIBLE:
            removed.append(c)
            continue
        out.append(c)
    for c in dict.fromkeys(removed):
        findings.append(Finding(INVISIBLE, f"U+{ord(c):04X}"))
    return "".join(out)


# -- chat-template tokens -----------------------------------------------------------------------

_CHAT_TOKEN = re.compile(
    r"<\|\s*/?\s*([a-z][a-z0-9_ ]{0,30})\s*\|>"  # <|im_start|>, <|eot_id|>, <|system|>
    r"|\[\s*(/?INST)\s*\]"  # Llama 2
    r"|<<\s*(/?SYS)\s*>>"
    r"|</?(s)>"  # sentence tokens
    r"|<(/?(?:start_of_turn|end_of_turn|tool_call|tool_response|function_call|"
    r"tool_result|function_results?|think))>",
    re.I,
)


def _token_name(m: re.Match[str]) -> str:
    name = next(g for g in m.groups() if g is not None)
    return name.strip().replace(" ", "_")


# -- role markers -------------------------------------------------------------------------------

_STRONG_ROLES = r"system|assistant|developer"
_WEAK_ROLES = r"user|human|tool|function|ai|model|bot|observation|admin(?:istrator)?"
_ROLE_SUFFIX = r"(?:[ _-]?(?:message|prompt|instructions?|override|note|update|output|result))?"
_ROLE_LINE = re.compile(
    r"^([ \t>]*)"
    r"(?:"
    rf"(?P<colon>(?:{_STRONG_ROLES}|{_WEAK_ROLES}){_ROLE_SUFFIX})\s*:"  # SYSTEM: / User:
    rf"|\[(?P<bracket>(?:{_STRONG_ROLES}|{_WEAK_ROLES}){_ROLE_SUFFIX})\]"  # [SYSTEM]
    rf"|(?P<tag></?(?:{_STRONG_ROLES}|{_WEAK_ROLES}){_ROLE_SUFFIX})>"  # <system>
    r"|(?P<hash>\#{2,}\s*(?:instructions?|response|system|input|assistant|user|human|"
    r"new instructions?)\b:?)"  # ### Instruction (Alpaca)
    r")",
    re.I | re.M,
)
_STRONG = re.compile(rf"^(?:</?)?(?:{_STRONG_ROLES})", re.I)


def _neutralise_roles(text: str, findings: list[Finding]) -> str:
    matches = list(_ROLE_LINE.finditer(text))
    if not matches:
        return text

    def label(m: re.Match[str]) -> str:
        raw = m.group("colon") or m.group("bracket") or m.group("tag") or m.group("hash") or ""
        return " ".join(raw.strip("<>/#: ").split())

    strong = any(m.group("hash") or _STRONG.match(label(m)) for m in matches)
    # A lone "User:" or "Tool:" line is ordinary (a ticket, a form); a transcript is not.
    if not strong and len(matches) < 2:
        return text
    out: list[str] = []
    pos = 0
    for m in matches:
        name = label(m)
        findings.append(Finding(ROLE_MARKER, m.group(0).strip()))
        out.append(text[pos : m.start()])
        out.append(f"{m.group(1)}[role marker removed: {name}]")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


# -- look-alike delimiters -------------------------------------------------------------------------

#: Characters that read as ``<``/``>`` or as the letters of DATA/END, beyond what NFKC folds.
_CONFUSABLE = {
    "≪": "<<", "≫": ">>", "«": "<<", "»": ">>", "《": "<<", "》": ">>", "⟪": "<<", "⟫": ">>",
    "‹": "<", "›": ">", "〈": "<", "〉": ">", "⟨": "<", "⟩": ">", "❮": "<", "❯": ">", "˂": "<",
    "˃": ">", "ᐸ": "<", "ᐳ": ">", "⧼": "<", "⧽": ">", "⦉": "<", "⦊": ">",
    "А": "A", "а": "a", "Е": "E", "е": "e", "Т": "T", "Д": "D", "Ν": "N", "Α": "A", "Ε": "E",
    "Τ": "T", "Ꭰ": "D", "Ꭼ": "E", "Ꭺ": "A", "Ꭲ": "T", "ԁ": "d", "Ｄ": "D", "ɴ": "N", "ᴅ": "D",
    "ᴇ": "E", "ᴀ": "A", "ᴛ": "T", "Ｅ": "E",
}  # fmt: skip
_DELIMITER = re.compile(r"<{2,}\s*/?\s*(DATA|END)\b[^<>\n]{0,40}>{2,}", re.I)


@lru_cache(maxsize=4096)
def _fold(c: str) -> str:
    if c in _CONFUSABLE:
        return _CONFUSABLE[c]
    if c.isascii():
        return c
    return unicodedata.normalize("NFKC", c)


def skeleton(text: str) -> tuple[str, list[int]]:
    """``text`` with look-alikes folded to ASCII, and for each folded character its index in
    ``text`` (so a match on the skeleton maps back to the original span)."""
    chars: list[str] = []
    index: list[int] = []
    for i, c in enumerate(text):
        f = _fold(c)
        chars.append(f)
        index.extend([i] * len(f))
    return "".join(chars), index


#: Every character that can start a delimiter imitation (a cheap test before folding the text).
_ANGLES = re.compile("[\uff1c\ufe64" + "".join(k for k, v in _CONFUSABLE.items() if "<" in v) + "]")
#: ASCII angles followed by a non-ASCII letter: "<<ЕND" needs folding too.
_MIXED = re.compile(r"<{2,}\s*/?\s*[^\x00-\x7f]")


def _neutralise_delimiters(text: str, findings: list[Finding]) -> str:
    if "<" not in text and not _ANGLES.search(text):
        return text
    if _ANGLES.search(text) or _MIXED.search(text):
        folded, index = skeleton(text)
    else:
        # Plain ASCII delimiters: no folding (it costs ~1 µs a character on long mail).
        folded, index = text, list(range(len(text)))
    spans = [(index[m.start()], index[m.end() - 1] + 1) for m in _DELIMITER.finditer(folded)]
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for start, end in spans:
        findings.append(Finding(FAKE_DELIMITER, text[start:end]))
        out.append(text[pos:start])
        out.append("[delimiter removed]")
        pos = end
    out.append(text[pos:])
    return "".join(out)


# -- override phrases (reported, not rewritten) ---------------------------------------------------

_OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*"
    r"(?:previous|prior|above|earlier|preceding|existing|original)\s+"
    r"(?:instructions?|prompts?|rules|directions|guidelines|context)"
    r"|\bnew\s+(?:system\s+)?instructions?\s*(?:from|:)"
    r"|\b(?:ai|the)\s+assistant\s+(?:must|should|is\s+instructed\s+to)\b"
    r"|\byou\s+are\s+now\s+(?:a|an|in)\b"
    r"|\b(?:language\s+model|llm|ai\s+assistant)s?\s+(?:reading|processing|summari[sz]ing)\b"
    r"|\bthe\s+previous\s+content\s+is\s+(?:finished|over|done)",
    re.I,
)


def find_overrides(text: str) -> list[str]:
    """Phrases that address a language model rather than a person ("ignore previous
    instructions", "the assistant must ...")."""
    return [m.group(0) for m in _OVERRIDE.finditer(text)]


# -- entry points -----------------------------------------------------------------------------

_MARKS_LEFT = re.compile(
    r"\[(role|chat) (?:marker|token) removed: [^\]\n]{1,40}\]"
    r"|\[(?:delimiter removed|removed delimiter)\]"
)


def sanitize(text: str) -> Sanitized:
    """Neutralise ``text`` (see the module docstring) and report what was found."""
    findings: list[Finding] = []
    if not text:
        return Sanitized(text, ())
    out = _strip_invisible(text, findings)
    out = _CHAT_TOKEN.sub(
        lambda m: (
            findings.append(Finding(CHAT_TOKEN, m.group(0)))  # type: ignore[func-returns-value]
            or f"[chat token removed: {_token_name(m)}]"
        ),
        out,
    )
    out = _neutralise_delimiters(out, findings)
    out = _neutralise_roles(out, findings)
    # Text sanitised before (a summary sentence, a tool result) keeps its findings.
    for m in _MARKS_LEFT.finditer(text):
        kind = {"role": ROLE_MARKER, "chat": CHAT_TOKEN}.get(m.group(1) or "", FAKE_DELIMITER)
        findings.append(Finding(kind, m.group(0)))
    findings.extend(Finding(OVERRIDE, p) for p in find_overrides(out))
    if HIDDEN_MARK in out:
        findings.append(Finding(HIDDEN_HTML, HIDDEN_MARK))
    return Sanitized(out, tuple(findings))


def sanitize_text(text: str) -> str:
    """Only the neutralised text of :func:`sanitize`."""
    return sanitize(text).text
