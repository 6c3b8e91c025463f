"""A phishing/scam signal for one message: a score in [0, 1] and the reasons behind it.

Features (each a weight; the score is their noisy-OR, ``1 - prod(1 - w)``):

* headers: Reply-To on another domain than From; SPF/DKIM/DMARC failures in
  ``Authentication-Results`` or ``Received-SPF`` (only when the headers are present); a display
  name that shows an address of another domain ("ceo@company.com" <x@gmail.com>);
* look-alike domains: the sender's or a link's domain one or two edits (or only confusable
  characters, ``rn``/``m``, ``1``/``l``) away from a domain the user corresponds with or a
  well-known brand; punycode domains; a brand name in the subdomain of an unrelated domain;
* wording: urgency together with payment language (wire, gift cards, account number, bitcoin),
  requests for credentials, secrecy, forwarding mail to an outside address;
* links whose visible text shows a different domain than where they go;
* text aimed at an AI assistant (what :mod:`agents.safety.sanitize` finds: role markers, chat
  tokens, hidden HTML text, "ignore previous instructions").

It is a signal shown to the user and used by triggering (no chips that act on a likely phish),
never a filter: nothing is hidden or deleted.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from agents.safety.sanitize import (
    BIDI,
    HIDDEN_HTML,
    INJECTION_KINDS,
    OVERRIDE,
    sanitize,
    skeleton,
)
from core.types import Message

#: Score at or above which a message is called a likely phish.
THRESHOLD = 0.6

#: Brands attackers imitate most often (registrable domains).
BRANDS = (
    "paypal.com", "apple.com", "microsoft.com", "office365.com", "outlook.com", "live.com",
    "google.com", "gmail.com", "amazon.com", "netflix.com", "facebook.com", "instagram.com",
    "linkedin.com", "dropbox.com", "docusign.com", "chase.com", "wellsfargo.com",
    "bankofamerica.com", "citibank.com", "americanexpress.com", "fedex.com", "ups.com",
    "dhl.com", "usps.com", "irs.gov", "adobe.com", "coinbase.com", "stripe.com", "zoom.us",
)  # fmt: skip
_BRAND_NAMES = {d.split(".")[0] for d in BRANDS if len(d.split(".")[0]) >= 5}
#: Brand names as they appear in display names ("PayPal Security", "DHL Express").
_BRAND_WORDS = sorted(_BRAND_NAMES | {"dhl", "fedex", "ups", "usps", "irs", "apple", "wells fargo"})
_BRAND_TOKENS = {w.replace(" ", "") for w in _BRAND_WORDS}
#: Bidi overrides (LRO, RLO) reverse visible text: "invoice\u202efdp.exe" shows as "invoiceexe.pdf".
_OVERRIDES = {"U+202D", "U+202E"}


class PhishingSignal(BaseModel):
    """How much a message looks like phishing or a scam, and why."""

    score: float = Field(ge=0.0, le=1.0, description="Noisy-OR of the features that fired.")
    likely_phish: bool = Field(description=f"score >= {THRESHOLD}")
    reasons: list[str] = Field(default_factory=list, description="One line per feature.")


class SafetyWarning(BaseModel):
    """A warning about one message, shown next to a summary."""

    message_id: str
    score: float
    reasons: list[str]


# -- domains --------------------------------------------------------------------------------------

_SECOND_LEVEL = {"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or"}


def registrable(domain: str) -> str:
    """``mail.corp.example.co.uk`` -> ``example.co.uk`` (a small public-suffix approximation)."""
    labels = [x for x in domain.lower().strip(".").split(".") if x]
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower().strip(">").strip() if "@" in address else ""


_DIGIT_LOOKALIKES = str.maketrans("1035|", "loesl")


@lru_cache(maxsize=8192)
def _fold_domain(domain: str) -> str:
    """Confusable-folded domain: ``rn`` -> ``m``, digits that read as letters, look-alikes."""
    folded, _ = skeleton(domain.lower())
    folded = folded.lower().replace("rn", "m").replace("vv", "w")
    return folded.translate(_DIGIT_LOOKALIKES)


def _edit_distance(a: str, b: str, cap: int = 3) -> int:
    if abs(len(a) - len(b)) >= cap:
        return cap
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return min(prev[-1], cap)


def lookalike_of(domain: str, known: Collection[str]) -> str | None:
    """The known domain ``domain`` imitates, or None (an exact match imitates nothing)."""
    reg = registrable(domain)
    if not reg or reg in known:
        return None
    name = reg.split(".")[0]
    folded = _fold_domain(reg)
    for k in known:
        kname = k.split(".")[0]
        if len(kname) < 5:
            continue  # short names are a keystroke from many honest domains
        if _fold_domain(k) == folded:
            return k
        limit = 1 if len(kname) < 8 else 2
        if _edit_distance(name, kname) <= limit and name != kname:
            return k
    # A brand spelled inside another name: paypa1-alerts.example, secure-paypal.example
    tokens = set(folded.split(".")[0].split("-"))
    for brand in _BRAND_TOKENS & tokens:
        if not reg.startswith(f"{brand}."):
            return f"{brand}.com"
    # A brand as a subdomain of an unrelated domain: paypal.com.secure-login.ru
    sub = domain.lower()[: -len(reg)] if domain.lower().endswith(reg) else ""
    for brand in _BRAND_NAMES:
        if brand in sub.split(".") and not reg.startswith(brand):
            return f"{brand}.com"
    return None


# -- wording ---------------------------------------------------------------------------------------

_URGENT = re.compile(
    r"\b(?:urgent(?:ly)?|immediately|right away|asap|as soon as possible|within (?:24|48) hours|"
    r"today before|by end of day|time[- ]sensitive|final notice|act now|suspended|expire[sd]?)\b",
    re.I,
)
_PAYMENT = re.compile(
    r"\b(?:wire(?:d)? (?:transfer|the|\$|funds|money|payment)|wire \$?\d|gift ?cards?|"
    r"itunes cards?|account number|routing number|iban|swift code|bitcoin|btc wallet|"
    r"crypto(?:currency)? wallet|bank details|payment details|transfer \$?\d[\d,]*|"
    r"\$\s?\d[\d,]{2,})",
    re.I,
)
_STRONG_PAYMENT = re.compile(r"\b(?:gift ?cards?|itunes cards?|bitcoin|btc wallet)\b", re.I)
_CREDENTIALS = re.compile(
    r"\b(?:verify|confirm|update|validate|re-?enter)\s+your\s+(?:account|password|login|"
    r"credentials|identity|payment (?:info|information|details)|billing)\b|"
    r"\b(?:your (?:account|mailbox|password) (?:has been|will be) (?:suspended|locked|disabled|"
    r"closed|deactivated))",
    re.I,
)
_SECRECY = re.compile(
    r"\b(?:keep (?:this|it) (?:confidential|between us|quiet)|don'?t (?:tell|mention|discuss)|"
    r"do not (?:tell|mention|discuss|call)|i'?m in a meeting|can'?t talk (?:now|right now))\b",
    re.I,
)
_FORWARD = re.compile(
    r"\b(?:forward|send|bcc|copy)\b[^.\n]{0,60}?\b(?:to|at)\s+([\w.+-]+@[\w-]+(?:\.[\w-]+)+)", re.I
)
_CLICK = re.compile(r"\bclick (?:here|this link|the link|below|on the link)\b", re.I)
_EMAIL_IN_NAME = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.I)
_ANCHOR = re.compile(r"<a\b[^>]*\bhref\s*=\s*[\"']([^\"']+)[\"'][^>]*>(.*?)</a>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_SHOWN_DOMAIN = re.compile(r"(?:https?://)?((?:[a-z0-9-]+\.)+[a-z]{2,})(?:[/:?#]|\s|$)", re.I)
_MD_LINK = re.compile(r"\[([^\]]{3,80})\]\((https?://[^)\s]+)\)")
_IP_URL = re.compile(r"https?://\d{1,3}(?:\.\d{1,3}){3}\b")


def _host(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


def _link_mismatches(html: str | None, text: str) -> list[tuple[str, str]]:
    """(shown domain, real domain) for links whose text names another domain than the href."""
    pairs: list[tuple[str, str]] = []
    if html:
        pairs += [(_TAG.sub("", t), href) for href, t in _ANCHOR.findall(html)]
    pairs += [(t, href) for t, href in _MD_LINK.findall(text)]
    out: list[tuple[str, str]] = []
    for shown_text, href in pairs:
        shown = _SHOWN_DOMAIN.search(shown_text.strip())
        real = _host(href)
        if shown and real and registrable(shown.group(1)) != registrable(real):
            out.append((shown.group(1).lower(), real))
    return out


def _auth_failures(headers: dict[str, str]) -> list[str]:
    out: list[str] = []
    results = headers.get("authentication-results", "").lower()
    for mech in ("spf", "dkim", "dmarc"):
        if re.search(rf"\b{mech}\s*=\s*(?:fail|softfail|permerror)\b", results):
            out.append(mech.upper())
    spf = headers.get("received-spf", "").strip().lower()
    if spf.startswith(("fail", "softfail")) and "SPF" not in out:
        out.append("SPF")
    return out


@lru_cache(maxsize=64)
def _known_set(known_domains: frozenset[str]) -> frozenset[str]:
    """Registrable forms of the user's known domains plus the brands (per domain set, once)."""
    return frozenset({registrable(d) for d in known_domains} | set(BRANDS))


@lru_cache(maxsize=8192)
def _lookalike_cached(domain: str, own: str, known_domains: frozenset[str]) -> str | None:
    # The edit distances against every known domain were ~1 ms of each chip request; a
    # sender's domain recurs, and the user's domain set is one cached frozenset.
    return lookalike_of(domain, _known_set(known_domains) - {own})


def assess(
    message: Message,
    *,
    known_domains: Collection[str] = (),
    html: str | None = None,
) -> PhishingSignal:
    """Score ``message``; ``known_domains`` are the registrable domains of the user's frequent
    correspondents (look-alikes of them are suspicious); ``html`` is the HTML body when at hand
    (link text vs. target checks; plain-text ``[text](url)`` links are checked regardless)."""
    weights: list[tuple[float, str]] = []
    sender = message.sender.email.lower() if message.sender else ""
    from_domain = _domain_of(sender)
    from_reg = registrable(from_domain) if from_domain else ""
    known_frozen = (
        known_domains if isinstance(known_domains, frozenset) else frozenset(known_domains)
    )
    known = _known_set(known_frozen)

    for addr in message.reply_to:
        rdom = _domain_of(addr.email)
        if rdom and from_reg and registrable(rdom) != from_reg:
            weights.append((0.3, f"Reply-To goes to {rdom}, not the sender's domain {from_domain}"))
            break
    if fails := _auth_failures(message.headers):
        weights.append((0.45, f"sender authentication failed ({', '.join(fails)})"))
    named = _EMAIL_IN_NAME.search(message.sender.name or "") if message.sender else None
    if named and registrable(named.group(1)) != from_reg:
        weights.append(
            (0.45, f"display name shows {named.group(0)} but the mail comes from {sender}")
        )
    name = message.sender.name.lower() if message.sender and message.sender.name else ""
    brand = next((b for b in _BRAND_WORDS if re.search(rf"\b{b}\b", name)), None)
    if brand and brand.replace(" ", "") not in from_reg.replace("-", ""):
        weights.append((0.4, f"display name says {brand!r} but the mail comes from {from_domain}"))
    if from_domain and (target := _lookalike_cached(from_domain, from_reg, known_frozen)):
        weights.append((0.5, f"sender domain {from_domain} looks like {target}"))
    if from_domain.startswith("xn--") or ".xn--" in from_domain:
        weights.append((0.2, f"sender domain {from_domain} uses punycode"))

    # Read the sanitised text: "gift\u00adcards" must match as "giftcards" does.
    found = sanitize(f"{message.subject}\n{message.new_text or message.body_text}")
    text = found.text
    urgent, payment = _URGENT.search(text), _PAYMENT.search(text)
    if urgent and payment:
        weights.append(
            (0.4, f"urgency ({urgent.group(0)!r}) with payment language ({payment.group(0)!r})")
        )
    elif payment and _STRONG_PAYMENT.search(text):
        weights.append((0.3, f"asks for payment by {payment.group(0)!r}"))
    if m := _CREDENTIALS.search(text):
        weights.append((0.3, f"asks to {m.group(0).lower()!r}"))
    if (m := _SECRECY.search(text)) and (payment or urgent):
        weights.append((0.2, f"asks for secrecy ({m.group(0)!r})"))
    for m in _FORWARD.finditer(text):
        dom = registrable(_domain_of(m.group(1)))
        if dom and dom != from_reg and dom not in known_domains:
            weights.append(
                (0.3, f"asks to forward or send mail to an outside address {m.group(1)}")
            )
            break
    if mismatches := _link_mismatches(html, text):
        shown, real = mismatches[0]
        weights.append((0.45, f"a link shows {shown} but goes to {real}"))
    hosts = {_host(u) for u in _URL.findall(f"{text}\n{html or ''}")} - {""}
    for host in sorted(hosts):
        if target := lookalike_of(host, known - {from_reg}):
            weights.append((0.45, f"a link goes to {host}, which looks like {target}"))
            break
    if _IP_URL.search(text):
        weights.append((0.2, "a link points to a bare IP address"))
    if _CLICK.search(text) and hosts:
        weights.append((0.1, "asks to click a link"))
    if kinds := sorted(found.kinds & (INJECTION_KINDS - {HIDDEN_HTML, OVERRIDE})):
        # Chat tokens, role markers and fake delimiters have no use in mail to a person.
        names = ", ".join(k.replace("_", " ") for k in kinds)
        weights.append((0.6, f"contains text aimed at an AI assistant ({names})"))
    if OVERRIDE in found.kinds:
        phrase = next(f.text for f in found.findings if f.kind == OVERRIDE)
        weights.append((0.45, f"addresses an AI assistant ({phrase!r})"))
    if any(f.kind == BIDI and f.text in _OVERRIDES for f in found.findings):
        weights.append((0.45, "contains right-to-left override characters that disguise text"))
    if HIDDEN_HTML in found.kinds:
        # Marketing mail hides "preheader" text too: suspicious, not proof.
        weights.append((0.35, "contains text hidden from the reader (dropped)"))

    miss = 1.0
    for w, _ in weights:
        miss *= 1.0 - w
    score = round(1.0 - miss, 3)
    return PhishingSignal(
        score=score, likely_phish=score >= THRESHOLD, reasons=[r for _, r in weights]
    )


def frequent_domains(messages: Collection[Message], *, min_count: int = 2) -> set[str]:
    """Registrable domains that sent at least ``min_count`` of ``messages`` (the user's
    correspondents: what a look-alike would imitate)."""
    counts: dict[str, int] = {}
    for m in messages:
        if m.sender and "@" in m.sender.email:
            d = registrable(_domain_of(m.sender.email))
            counts[d] = counts.get(d, 0) + 1
    return {d for d, n in counts.items() if n >= min_count}
