"""Signature detection for plain-text mail bodies (quotes already removed).

Heuristics in the spirit of talon's ``signature/bruteforce.py`` (delimiter lines, "Sent from
my iPhone") plus a rule for the trailing name/title/phone block that talon leaves to its
machine-learned classifier. Only the bottom of the message is examined, every pattern is
anchored and bounded, so the cost is linear in the number of trailing lines. See ``quotes.py``
for why this is hand-written rather than taken from a library.
"""

from __future__ import annotations

import re
from email.utils import parseaddr
from functools import lru_cache

__all__ = ["strip_signature"]

# How far up from the bottom a signature may start, in non-empty lines (talon uses 11 as well).
_MAX_SIGNATURE_LINES = 11
# A line this long (or a real sentence) is message text, never part of a signature block.
_MAX_SIGNATURE_LINE_LEN = 70

# "-- " (RFC 3676), "--", "__", and rules made of dashes/underscores/equals signs. Mailing-list
# footers hang below a row of underscores, so those count as a delimiter too.
_DELIMITER = re.compile(r"^(?:-{2,}|_{2,}|={5,}|—)$")

# "Sent from my iPhone", "Sent with Sparrow (...)", "Envoyé de mon iPad", "Get Outlook for iOS".
# At most eight words and no clause punctuation: "Sent from my desk, is much easier ..." is prose.
_MOBILE = re.compile(
    r"^(?:sent|sent from|envoyé|gesendet|enviado|inviato|verzonden|skickat|sendt|wysłane|"
    r"отправлено)\s+(?:from|with|via|using|on|de|depuis|avec|von|mit|desde|con|da|van|met|"
    r"från|fra|z|с|из)\b[^,;!?]{0,80}$"
    r"|^(?:get outlook for|von meinem|envoyé de mon|enviado desde mi|enviado do meu|"
    r"inviato dal? mio|verzonden vanaf mijn|skickat från min|sendt fra min|отправлено с)\b"
    r"[^,;!?]{0,80}$",
    re.IGNORECASE,
)
_MOBILE_MAX_WORDS = 8

# "-Abhishek Kona", "-- Tim": a dash-prefixed name on the last line (github/email_reply_parser).
_DASH_NAME = re.compile(r"^-{1,2} ?[A-Z][\w.'’]*(?: [A-Z][\w.'’]*){0,3}$")

_CLOSING = re.compile(
    r"^(?:thanks|thank you|thanks again|many thanks|thx|cheers|best|best wishes|all the best|"
    r"regards|best regards|kind regards|warm regards|warmest regards|with regards|sincerely|"
    r"yours|yours truly|yours sincerely|take care|talk soon|rgds|br|"
    r"mit freundlichen grüßen|mit freundlichen grüssen|viele grüße|beste grüße|liebe grüße|grüße|"
    r"cordialement|bien cordialement|bien à vous|amicalement|saludos|un saludo|atentamente|"
    r"cordiali saluti|saluti|distinti saluti|met vriendelijke groet|groeten|vriendelijke groet|"
    r"med vänliga hälsningar|hälsningar|mvh|med venlig hilsen|с уважением|спасибо|"
    r"pozdrawiam|z poważaniem)\b[\s,.!]*(?:[\w.'’-]+[\s,.!]*){0,2}$",
    re.IGNORECASE,
)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_URL = re.compile(r"https?://|www\.|\b[\w-]+\.(?:com|org|net|io|co|biz|info|edu|gov)\b", re.I)
_PHONE = re.compile(r"\+?\(?\d[\d ().-]{5,}\d")
_PHONE_LABEL = re.compile(
    r"^(?:t|f|m|p|ph|tel|phone|fax|cell|mobile|mob|office|direct|skype)\b\.?\s*[:.]", re.I
)
# Job titles, company suffixes, address words and degrees mark signature lines.
_TITLE = re.compile(
    r"\b(?:director|manager|president|vice president|vp|ceo|cto|cfo|coo|founder|co-founder|"
    r"engineer|analyst|consultant|partner|associate|counsel|attorney|specialist|coordinator|"
    r"assistant|officer|head of|lead|owner|principal|professor|ph\.?d|mba|inc|llc|ltd|gmbh|"
    r"corp|corporation|company|university|department|dept|suite|street|avenue|ave|blvd|"
    r"linkedin|twitter|skype|via mobile)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=1024)
def _sender_tokens(sender: str) -> tuple[str, tuple[str, ...]]:
    """(lower-cased address, lower-cased name words) of a sender such as 'Jo Doe <jo@x.org>'."""
    name, addr = parseaddr(sender)
    if not addr and "@" not in sender:
        name, addr = sender, ""
    words = {w for w in re.split(r"[\W_]+", name.lower()) if len(w) >= 3}
    if addr:
        # The local part often carries the name ("phillip.allen@enron.com").
        words.update(w for w in re.split(r"[\W_\d]+", addr.split("@")[0].lower()) if len(w) >= 3)
    return addr.lower(), tuple(sorted(words))


def _matches_sender(line: str, sender: tuple[str, tuple[str, ...]] | None) -> bool:
    if sender is None:
        return False
    addr, words = sender
    low = line.lower()
    if addr and addr in low:
        return True
    if not words or len(line.split()) > 5:
        return False
    line_words = set(re.split(r"[\W_]+", low))
    return any(w in line_words for w in words)


def _is_prose(line: str) -> bool:
    """A line of running text, which a signature block never contains."""
    if len(line) > _MAX_SIGNATURE_LINE_LEN:
        return True
    words = line.split()
    return len(words) >= 10 or (len(words) >= 5 and line[-1] in ".!?")


def _is_signature_like(line: str) -> bool:
    return bool(
        _EMAIL.search(line)
        or _URL.search(line)
        or _PHONE_LABEL.match(line)
        or (_PHONE.search(line) and sum(c.isdigit() for c in line) >= 7)
        or _TITLE.search(line)
    )


def _is_name_like(line: str) -> bool:
    words = line.rstrip(",").split()
    return 0 < len(words) <= 4 and all(w[0].isupper() or w[0] in "#(" for w in words)


def _is_mobile_line(line: str) -> bool:
    return bool(_MOBILE.match(line)) and len(line.split()) <= _MOBILE_MAX_WORDS


def _find_start(
    lines: list[str], end: int, sender: tuple[str, tuple[str, ...]] | None
) -> int | None:
    """Index of the first signature line within lines[:end], or None."""
    nonempty = [i for i in range(end) if lines[i].strip()]
    if len(nonempty) < 2:
        return None
    first = nonempty[0]  # the first line is always message text (talon does the same)
    tail = nonempty[-_MAX_SIGNATURE_LINES:]

    # 1. A delimiter line; the topmost one within reach wins.
    for i in tail:
        if i != first and _DELIMITER.match(lines[i].strip()):
            return i

    # 2. "Sent from my ..." near the bottom (at most two lines, e.g. a name, below it).
    for i in tail[-3:]:
        if i != first and _is_mobile_line(lines[i].strip()):
            return i

    # 3. "-Name" as the last line, unless it ends a bullet list.
    last = nonempty[-1]
    if last != first and _DASH_NAME.match(lines[last].strip()):
        prev = lines[nonempty[-2]].lstrip()
        if not prev.startswith("-"):
            return last

    # 4. A trailing block of short, non-prose lines: name, title, company, phone, address.
    block: list[int] = []
    for i in reversed(tail):
        if i == first or _is_prose(lines[i].strip()):
            break
        block.append(i)
    block.reverse()
    for pos, i in enumerate(block):
        line = lines[i].strip()
        rest = [lines[k].strip() for k in block[pos:]]
        paragraph_start = not lines[i - 1].strip()
        if sum(_is_signature_like(x) for x in rest) >= 2 and (
            _CLOSING.match(line)
            or _matches_sender(line, sender)
            or _is_signature_like(line)
            or (_is_name_like(line) and paragraph_start)
        ):
            return i
        if _matches_sender(line, sender) and (_is_name_like(line) or _is_signature_like(line)):
            return i
        if (
            _CLOSING.match(line)
            and pos + 1 < len(block)
            and _matches_sender(lines[block[pos + 1]].strip(), sender)
        ):
            return i
    return None


def strip_signature(text: str, sender: str | None = None) -> tuple[str, str | None]:
    """Split a plain-text body into (text without signature, signature or None).

    Recognised: a "-- " / "--" / "____" delimiter line in the last 11 non-empty lines, a short
    "Sent from my iPhone"-style line near the bottom, a "-Name" last line, and a trailing block of
    short lines carrying two or more signature features (phone, e-mail, URL, job title, company) or
    the sender's own name/address (with a closing such as "Thanks," right above it). A closing
    followed by a bare first name is kept when the sender is unknown: it is part of the message.
    `sender` may be an address, a display name or 'Name <address>'. The first line of the text is
    never treated as signature, so a non-empty text stays non-empty.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    who = _sender_tokens(sender) if sender and sender.strip() else None
    end = len(lines)
    # Signatures stack ("-Abhishek Kona" above a mailing-list footer), so peel a few layers.
    for _ in range(3):
        start = _find_start(lines, end, who)
        if start is None:
            break
        end = start
    if end == len(lines):
        return text.strip(), None
    return "\n".join(lines[:end]).strip(), "\n".join(lines[end:]).strip()
