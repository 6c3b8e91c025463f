"""Drop HTML elements a reader cannot see before the HTML becomes text.

An attacker hides instructions for an AI assistant in a mail: ``display:none``,
``visibility:hidden``, white text on a white background, a font size of 0 or 1px, zero opacity.
The person never sees that text; the model would read it as part of the mail. Such elements are
replaced by a visible ``[hidden text removed]`` so the drop is not silent (and the phishing
signal can count it). Marketing "preheader" text hidden the same way is dropped too: it is not
shown by mail clients either.
"""

from __future__ import annotations

import re

#: Left where hidden text was dropped (kept in sync with ``agents.safety.sanitize.HIDDEN_MARK``).
HIDDEN_MARK = "[hidden text removed]"

# Cheap pre-check: most HTML mail has none of these, and parsing twice costs time at ingest.
_HINT = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*[01](?:\.\d+)?\s*(?:px|pt|em|rem|%)?"
    r"\s*[;\"']|opacity\s*:\s*0(?:\.0+)?\s*[;\"']|color\s*:\s*(?:#fff\b|#ffffff\b|white\b|"
    r"rgb\(\s*255\s*,\s*255\s*,\s*255\s*\))|\shidden[\s>=]",
    re.I,
)
_WHITE = re.compile(r"^(?:#fff|#ffffff|white|rgb\(\s*255\s*,\s*255\s*,\s*255\s*\))$", re.I)


def _style(el: object) -> dict[str, str]:
    raw = str(getattr(el, "get", lambda *_: "")("style") or "")
    out: dict[str, str] = {}
    for part in raw.split(";"):
        if ":" in part:
            k, v = part.split(":", 1)
            out[k.strip().lower()] = v.strip().lower().replace("!important", "").strip()
    return out


def _background(el: object) -> str | None:
    """The nearest declared background colour of ``el`` or its ancestors."""
    node = el
    while node is not None:
        style = _style(node)
        for key in ("background-color", "background"):
            if key in style:
                return style[key].split()[0] if style[key] else None
        bgcolor = getattr(node, "get", lambda *_: None)("bgcolor")
        if bgcolor:
            return str(bgcolor).lower()
        node = node.getparent()  # type: ignore[attr-defined]
    return None


def _is_hidden(el: object) -> bool:
    if getattr(el, "get", lambda *_: None)("hidden") is not None:
        return True
    style = _style(el)
    if style.get("display") == "none" or style.get("visibility") == "hidden":
        return True
    size = re.match(r"^([0-9.]+)\s*(px|pt|em|rem|%)?$", style.get("font-size", ""))
    if size:
        value, unit = float(size.group(1)), size.group(2) or "px"
        if value == 0 or (unit in ("px", "pt") and value <= 1) or (unit == "%" and value < 10):
            return True
    if re.match(r"^0(?:\.0+)?$", style.get("opacity", "1")):
        return True
    color = style.get("color", "")
    if _WHITE.match(color):
        # White text is visible on a dark button or banner: only white on white counts.
        bg = _background(el)
        return bg is None or bool(_WHITE.match(bg))
    return False


def drop_hidden(html: str) -> str:
    """``html`` with invisible elements replaced by :data:`HIDDEN_MARK` (unchanged when none)."""
    if not html or not _HINT.search(html):
        return html
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.document_fromstring(html)
    except Exception:  # noqa: BLE001 - unparsable HTML goes to the converter's own fallback
        return html
    changed = False
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None or not _is_hidden(el):
            continue
        if not "".join(el.itertext()).strip():
            continue  # hidden spacer or tracking pixel: nothing to read
        mark = lxml_html.Element("span")
        mark.text = f" {HIDDEN_MARK} "
        mark.tail = el.tail
        el.getparent().replace(el, mark)
        changed = True
    if not changed:
        return html
    return str(etree.tostring(root, encoding="unicode", method="html"))
