"""Fixtures for the web client's tests: one Debian chromium driven by Playwright per module,
and pages that fail their test on any console error. The demo services and the live uvicorn
are the HTTP tests' own session fixtures (this folder sits under theirs, so they are shared).

Playwright's own browser download is not reachable here, so the system ``/usr/bin/chromium``
(installed by ``scripts/install-test-servers.sh``) is launched; tests skip when it is absent.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from core.settings import REPO_ROOT
from tests.api.http.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = "/usr/bin/chromium"
#: Screenshots of the main views (ignored by git); the README's two come from here.
ARTIFACTS = REPO_ROOT / "var" / "test-artifacts" / "web"
#: The two widths every view is checked and photographed at.
WIDTHS = (1280, 375)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium for the browser tests of a module (module-scoped: sync
    Playwright keeps an event loop running in this thread, which async tests of other
    modules must not find)."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed (scripts/install-test-servers.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@dataclass
class Console:
    """Console errors and uncaught exceptions of a page; ``allow`` expects some."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Expect console errors matching ``pattern`` (e.g. the network log of a 429)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        """Errors no ``allow`` pattern covers."""
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@dataclass
class WebPage:
    """A browser page on the live server, with its console watched."""

    page: Page
    url: str
    console: Console

    def open(self, key: str, route: str = "") -> None:
        """Open the client signed in with ``key`` (the link ``mailmind serve`` prints)."""
        self.page.goto(f"{self.url}/#key={key}")
        self.page.wait_for_selector("#message-list a.row-link")
        if route:
            self.page.evaluate("r => { location.hash = r; }", route)

    def shoot(
        self, name: str, *, assistant: bool | None = None, show: str | None = None,
        full: bool = False,
    ) -> None:  # fmt: skip
        """Screenshots of the current view at each of :data:`WIDTHS`, with the assistant panel
        open (``True``), closed, or as the page opens it (``None``: open on a desktop only),
        scrolled so that ``show`` (a selector) is in view, or of the ``full`` page."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        size = self.page.viewport_size or {"width": 1280, "height": 900}
        state = self.page.evaluate("document.body.dataset.assistant")
        for width in WIDTHS:
            self.page.set_viewport_size({"width": width, "height": 900 if width > 400 else 812})
            is_open = width >= 760 if assistant is None else assistant
            self.page.evaluate(
                "open => { document.body.dataset.assistant = open ? 'open' : 'closed'; }", is_open
            )
            if show is not None:
                self.page.locator(show).first.scroll_into_view_if_needed()
            if full:
                self.page.evaluate("window.scrollTo(0, 0)")
            self.page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=full)
        self.page.set_viewport_size(size)
        self.page.evaluate("s => { document.body.dataset.assistant = s; }", state)


@pytest.fixture
def web(browser: Browser, live_server: LiveServer) -> Iterator[WebPage]:
    """A fresh browser context and page; the test fails on any unexpected console error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)  # model-backed routes take seconds on a busy CPU
    console = Console()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console.errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: console.errors.append(f"uncaught: {exc}"))
    yield WebPage(page=page, url=live_server.url, console=console)
    context.close()
    assert console.unexpected() == [], "console errors in the page"
