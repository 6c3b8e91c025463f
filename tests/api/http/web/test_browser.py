"""The web client in a real browser (Debian chromium via Playwright) against a real uvicorn
over the demo data and the real model: inbox, thread with summary citations and chips, search
highlighting, the assistant streaming with citations into the mailbox and surviving a reload,
and a 429 from the server's own limiter shown as a readable message.

Every test fails on a console error in the page (the ``web`` fixture), and the main views are
photographed at 1280 and 375 px into ``var/test-artifacts/web/``.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import httpx
import pytest

from api.http.limits import Limits
from api.services import Services
from core.settings import ServerSettings
from tests.api.http.conftest import Keys, LiveServer, auth
from tests.api.http.web.conftest import WebPage

pytestmark = [pytest.mark.integration, pytest.mark.server]


def api(server: LiveServer, key: str, method: str, path: str, **kw: Any) -> Any:
    """One call to the live server's public API (what the page itself calls)."""
    with httpx.Client(base_url=server.url, headers=auth(key), timeout=300) as c:
        response = c.request(method, path, **kw)
        response.raise_for_status()
        return response.json()


def thread_with_chips(server: LiveServer, key: str) -> tuple[str, str, list[str]]:
    """The shortest recent inbox thread with a message that gets chips (the shorter the thread,
    the sooner the model's summary): (thread, message, chip texts)."""
    page = api(server, key, "GET", "/v1/messages", params={"folder": "INBOX", "limit": 20})
    for row in sorted(page["messages"], key=lambda r: r["thread_size"]):
        chips = api(server, key, "POST", "/v1/smart-reply", json={"message_id": row["id"]})
        if chips["triggered"] and chips["chips"]:
            return row["thread_id"], row["id"], [c["text"] for c in chips["chips"]]
    raise AssertionError("no demo inbox message triggers smart replies")


def test_inbox_lists_the_newest_messages_with_unread_and_summary(
    web: WebPage, keys: Keys, live_server: LiveServer
) -> None:
    expected = api(live_server, keys.demo, "GET", "/v1/messages", params={"folder": "INBOX"})
    web.open(keys.demo)
    page = web.page
    rows = page.locator("#message-list li.row")
    assert rows.count() == min(20, expected["total"])  # the client's page size
    first = expected["messages"][0]
    assert page.locator("#message-list a.row-link").first.get_attribute("href") == (
        f"#/thread/{first['thread_id']}"
    )
    unread_shown = page.locator("#message-list li.row.unread").count()
    assert unread_shown == sum(m["unread"] for m in expected["messages"][:20]) > 0
    assert first["summary"] in page.locator(".row-summary").first.inner_text()
    folders = api(live_server, keys.demo, "GET", "/v1/folders")["folders"]
    inbox = next(f for f in folders if f["name"] == "INBOX")
    assert page.locator('#folder-list a[data-folder="INBOX"] .badge').inner_text() == str(
        inbox["unread"]
    )
    if expected["next_offset"] is not None:  # the next page starts where the API says
        page.click("#next-page")
        page.wait_for_selector("#page-info:has-text('21')")
        assert "21" in page.locator("#page-info").inner_text()
        page.click("#prev-page")
        page.wait_for_selector("#page-info:has-text('1–20')")
    web.shoot("inbox")


def test_thread_summary_citations_and_chip_feedback(
    web: WebPage, keys: Keys, live_server: LiveServer, http_services: Services
) -> None:
    thread_id, message_id, chip_texts = thread_with_chips(live_server, keys.demo)
    web.open(keys.demo, f"#/thread/{thread_id}")
    page = web.page
    page.wait_for_selector(f"#msg-{message_id}")
    # The summary arrives with citation links to messages of this thread.
    page.wait_for_selector("#summary-body .thumbs")
    links = page.locator("#summary-body a.cite")
    assert links.count() > 0
    thread_ids = {
        m["id"] for m in api(live_server, keys.demo, "GET", f"/v1/threads/{thread_id}")["messages"]
    }
    cited = links.last.get_attribute("data-cite")
    assert cited in thread_ids
    links.last.click()
    assert page.evaluate("document.activeElement.id") == f"msg-{cited}"
    assert page.locator(f"#msg-{cited}").evaluate("el => el.classList.contains('cited')")

    # Chips under the message; a click fills the editable reply box and stores the choice.
    slot = page.locator(f"#reply-slot-{message_id}")
    chips = slot.locator("button.chip")
    chips.first.wait_for()
    assert chips.all_inner_texts() == chip_texts
    chips.nth(1).click()
    box = slot.locator("textarea.reply-text")
    assert box.input_value() == chip_texts[1]
    page.wait_for_function(
        "id => document.getElementById(id).dataset.feedbackId", arg=f"reply-{message_id}"
    )
    row_id = int(box.get_attribute("data-feedback-id") or 0)
    stored = {f.id: f.record for f in http_services.feedback.list("demo", kind="chip")}
    assert stored[row_id].target_id == message_id
    assert stored[row_id].chip_chosen == 1
    assert stored[row_id].chips_shown == chip_texts
    box.fill(chip_texts[1] + " See you then.")  # editable
    assert box.input_value().endswith("See you then.")

    # Thumbs on the summary go to the feedback route as a rating of this thread.
    page.click("#summary-body button[data-rating='up']")
    page.wait_for_selector("#summary-body .thumbs[data-feedback-id]")
    rating_id = int(page.locator("#summary-body .thumbs").get_attribute("data-feedback-id") or 0)
    rated = {f.id: f.record for f in http_services.feedback.list("demo", kind="summary")}
    assert (rated[rating_id].target_id, rated[rating_id].rating) == (thread_id, "up")

    web.shoot("thread-chips", full=True)

    # "Draft a full reply" streams the model's draft into the box token by token; seeing it
    # grow is enough here (closing the page then cancels the rest of the generation).
    page.evaluate(
        """id => {
        window.drafts = [];
        const box = document.getElementById(id);
        const before = box.value;
        setInterval(() => {
          const v = box.value;
          if (v && v !== before && v !== window.drafts.at(-1)) window.drafts.push(v);
        }, 10);
      }""",
        f"reply-{message_id}",
    )
    slot.locator("button.draft").click()
    page.wait_for_function("() => window.drafts.length >= 3")
    drafts: list[str] = page.evaluate("window.drafts")
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(drafts))


def test_search_highlights_matched_terms(web: WebPage, keys: Keys) -> None:
    web.open(keys.demo)
    page = web.page
    page.fill("#q", "spec sheet")
    page.press("#q", "Enter")
    page.wait_for_selector("#message-list mark")
    marks = {m.lower() for m in page.locator("#message-list mark").all_inner_texts()}
    assert marks & {"spec", "sheet"}
    assert page.locator("#list-title").inner_text() == "Search: spec sheet"


def test_assistant_streams_tokens_and_citations_open_the_message(
    web: WebPage, keys: Keys, live_server: LiveServer
) -> None:
    web.open(keys.demo)
    page = web.page
    # Record the answer's text each time it changes while the answer is still streaming.
    page.evaluate(
        """() => {
        window.partials = [];
        new MutationObserver(() => {
          const a = document.querySelector('#chat-log .answer[aria-busy="true"]');
          if (a && a.textContent) window.partials.push(a.textContent);
        }).observe(document.getElementById('chat-log'),
                   {subtree: true, childList: true, characterData: true});
      }"""
    )
    page.fill("#question", "What did Kenji ask for about the spec sheet?")
    page.click("#ask")
    answer = page.locator("#chat-log .answer[aria-busy='false']")
    answer.wait_for()
    partials: list[str] = page.evaluate("window.partials")
    assert len(set(partials)) >= 2, "the answer did not arrive token by token"
    assert page.locator("#chat-log .tool").count() >= 1  # tool calls shown as they happened
    link = page.locator("#chat-log a.cite, #chat-log a.source").first
    cited = link.get_attribute("data-cite") or ""
    assert re.fullmatch(r"m[0-9a-f]+", cited)
    message = api(live_server, keys.demo, "GET", f"/v1/messages/{cited}")["message"]
    web.shoot("assistant", assistant=True, show="#chat-log .turn")
    link.click()
    page.wait_for_selector(f"#msg-{cited}.cited")
    assert page.evaluate("document.activeElement.id") == f"msg-{cited}"
    assert (
        page.locator("#thread-title").inner_text()
        == (api(live_server, keys.demo, "GET", f"/v1/threads/{message['thread_id']}")["subject"])
    )

    # The conversation is kept across a reload, read back from GET /v1/conversations/{id}
    # (the owner's only: another user's key gets the 404 of an id nobody used).
    question = "What did Kenji ask for about the spec sheet?"
    shown = page.locator("#chat-log .answer-text").first.inner_text()
    page.reload()
    page.wait_for_selector("#chat-log .turn")
    assert page.locator("#chat-log .question").first.inner_text().endswith(question)
    assert page.locator("#chat-log .answer-text").first.inner_text() == shown
    assert page.locator(f'#chat-log a[data-cite="{cited}"]').count() >= 1
    conversation = page.evaluate("localStorage.getItem('mailmind.conversation')")
    turns = api(live_server, keys.demo, "GET", f"/v1/conversations/{conversation}")["turns"]
    assert [t["question"] for t in turns] == [question]
    assert cited in {c["id"] for c in turns[0]["citations"]}
    assert [c["name"] for c in turns[0]["tool_calls"]] == page.locator(
        "#chat-log .tool-name"
    ).all_inner_texts()
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        other = c.get(f"/v1/conversations/{conversation}", headers=auth(keys.eve))
        unknown = c.get("/v1/conversations/never-asked", headers=auth(keys.demo))
    assert other.status_code == unknown.status_code == 404
    assert other.json()["detail"] == unknown.json()["detail"]


def test_assistant_panel_at_phone_width(web: WebPage, keys: Keys) -> None:
    web.open(keys.demo)
    page = web.page
    page.set_viewport_size({"width": 375, "height": 812})
    page.reload()
    page.wait_for_selector("#message-list a.row-link")
    assert not page.locator("#assistant").is_visible()  # one column: the mailbox first
    page.click("#assistant-toggle")
    assert page.locator("#assistant").is_visible()
    assert not page.locator("#main").is_visible()
    assert page.evaluate("document.activeElement.id") == "question"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "the page scrolls sideways at 375 px"


def test_rate_limit_is_shown_with_retry_after(
    web: WebPage, http_services: Services, live_server: LiveServer, http_app: Any
) -> None:
    _, key = http_services.keys.create("demo", name="web-429")
    original = http_app.state.limits
    # The real server's limiter, made tiny: the page's third request is over the limit.
    http_app.state.limits = Limits.from_settings(ServerSettings(rate_limit="2/minute"))  # type: ignore[call-arg]
    web.console.allow(r"status of 429")  # chromium logs every failed fetch
    try:
        web.page.goto(f"{live_server.url}/#key={key}")
        web.page.wait_for_selector("#message-list a.row-link")
        web.page.fill("#q", "spec sheet")
        web.page.press("#q", "Enter")
        banner = web.page.locator("#error")
        banner.wait_for()
        text = banner.inner_text()
        assert re.search(r"Too many requests: this API key is over its rate limit\.", text)
        assert re.search(r"Retry after \d+ s\.", text)
        assert "rate limit" in web.page.locator("#message-list .error").inner_text()
    finally:
        http_app.state.limits = original


def test_unknown_key_asks_again(web: WebPage, live_server: LiveServer, keys: Keys) -> None:
    web.console.allow(r"status of 401")
    page = web.page
    page.goto(live_server.url)
    page.wait_for_selector("#login-form")
    assert page.evaluate("document.activeElement.id") == "key"  # focus starts at the key
    page.fill("#key", "mm_000000000000_wrong")
    page.press("#key", "Enter")
    page.wait_for_selector("#error:not([hidden])")
    assert "unknown or revoked API key" in page.locator("#error").inner_text()
    assert page.locator("#login").is_visible()
    page.fill("#key", keys.demo)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#message-list a.row-link")
