"""The web client: one HTML page and plain ES modules, served by the API app at ``/``.

No build step and no Node toolchain: ``static/`` holds the files exactly as the browser gets
them. The page asks for an API key (or takes the demo key from the ``#key=`` fragment that
``mailmind serve`` prints; a fragment never reaches the server or its logs), keeps it in the
browser's local storage, and talks only to the public ``/v1`` routes, so it doubles as a
reference client. Everything it draws from mail is inserted as text, never as HTML, and the
page's Content-Security-Policy allows scripts from this origin only.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

#: The client's files.
STATIC_DIR = Path(__file__).parent / "static"
#: Scripts, styles and API calls from this origin only; mail text can never run as code.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    """The client's page (no key needed: the page itself holds no data)."""
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": CSP,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def install_web(app: FastAPI) -> None:
    """Serve the client at ``/`` and its files under ``/static``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
