"""HTML to plain text, through inscriptis (a maintained, layout-aware converter).

Why inscriptis: it renders tables, lists and block elements into readable text (what the model
and the quote stripper need), and it is tolerant of the broken HTML that mail clients send.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inscriptis.model.config import ParserConfig


@lru_cache(maxsize=1)
def _config() -> ParserConfig:
    from inscriptis.css_profiles import CSS_PROFILES
    from inscriptis.model.config import ParserConfig

    # "strict" keeps block structure without indenting nested divs as much as "relaxed" does.
    return ParserConfig(css=CSS_PROFILES["strict"], display_links=False, display_images=False)


def html_to_text(html: str) -> str:
    """Convert an HTML document or fragment to plain text; returns "" for empty input."""
    if not html or not html.strip():
        return ""
    from inscriptis import get_text

    from retrieval.sources.mail.hidden import drop_hidden

    # Text a reader cannot see (display:none, white on white, 0px) must not reach a model.
    html = drop_hidden(html)
    try:
        text = get_text(html, _config())
    except Exception:  # noqa: BLE001 - lxml can choke on pathological markup; fall back to tag strip
        from lxml import html as lxml_html

        try:
            text = lxml_html.fromstring(html).text_content()
        except Exception:  # noqa: BLE001
            return ""
    # inscriptis pads lines with spaces to render tables; trailing spaces carry no meaning.
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(lines).strip()
