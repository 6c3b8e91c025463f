"""Incremental CalDAV / CardDAV sync into the calendar and contact stores.

Transport is caldav's :class:`caldav.DAVClient` (auth negotiation, TLS, retries); the protocol
steps are plain WebDAV so calendars (RFC 4791) and address books (RFC 6352) share one engine:

1. Discovery: ``current-user-principal`` -> ``calendar-home-set`` / ``addressbook-home-set`` ->
   the collections in each home (PROPFIND Depth 1).
2. Per collection: skip when ``getctag`` and ``sync-token`` are unchanged. Otherwise ask for
   the changes since the stored token (``sync-collection`` REPORT, RFC 6578); a server without
   tokens, or one that rejected an expired token, is compared item by item via ``getetag``.
3. Changed items are fetched with ``calendar-multiget`` / ``addressbook-multiget`` and each
   resource replaces what its ``source`` (``dav:<account>:<href>``) held in the store; deleted
   resources are removed. Collections that vanished from the server are emptied.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urljoin, urlsplit
from xml.sax.saxutils import escape

from core.errors import SyncError
from core.settings import DavAccount
from retrieval.sources.calendar.parse import parse_ics
from retrieval.sources.contacts.parse import parse_vcf
from retrieval.store.calendar import CalendarStore
from retrieval.store.contacts import ContactStore
from retrieval.store.pim_sqlite import connect, ensure_schema, now_ts

log = logging.getLogger(__name__)

D, C, CR, CS = (
    "DAV:",
    "urn:ietf:params:xml:ns:caldav",
    "urn:ietf:params:xml:ns:carddav",
    "http://calendarserver.org/ns/",
)
_XMLNS = f'xmlns:d="{D}" xmlns:c="{C}" xmlns:cr="{CR}" xmlns:cs="{CS}"'
Kind = Literal["calendar", "addressbook"]
#: ``progress(account, collection_name, message)``
OnDavProgress = Callable[[str, str, str], None]

SCHEMA_VERSION = 1
_DDL = """
CREATE TABLE IF NOT EXISTS dav_collections (
    account TEXT NOT NULL,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    ctag TEXT,
    sync_token TEXT,
    synced_at TEXT NOT NULL,
    PRIMARY KEY (account, url)
);
CREATE TABLE IF NOT EXISTS dav_items (
    account TEXT NOT NULL,
    collection TEXT NOT NULL,
    href TEXT NOT NULL,
    etag TEXT,
    PRIMARY KEY (account, collection, href)
);
"""


@dataclass(slots=True)
class DavCollection:
    """A calendar or address book on the server."""

    url: str
    kind: Kind
    name: str
    ctag: str | None = None
    sync_token: str | None = None


@dataclass(slots=True)
class CollectionReport:
    """What one collection's sync did; ``mode`` is how changes were found."""

    url: str
    kind: Kind
    name: str
    mode: Literal["unchanged", "sync-token", "etag", "removed"] = "unchanged"
    changed: int = 0
    deleted: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class DavSyncReport:
    """What one account's sync did."""

    account: str
    collections: list[CollectionReport] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


class DavState:
    """Per-account collection tokens and item etags."""

    def __init__(self, db: str | Path | sqlite3.Connection):
        self.conn = connect(db)
        ensure_schema(self.conn, "dav_sync", SCHEMA_VERSION, _DDL)

    def collections(self, account: str) -> dict[str, DavCollection]:
        """Collections seen by the last sync, by URL."""
        rows = self.conn.execute(
            "SELECT url, kind, name, ctag, sync_token FROM dav_collections WHERE account = ?",
            (account,),
        )
        return {r[0]: DavCollection(r[0], r[1], r[2], r[3], r[4]) for r in rows}

    def items(self, account: str, collection: str) -> dict[str, str | None]:
        """``{href: etag}`` of a collection as last synced."""
        rows = self.conn.execute(
            "SELECT href, etag FROM dav_items WHERE account = ? AND collection = ?",
            (account, collection),
        )
        return {r[0]: r[1] for r in rows}

    def put_item(self, account: str, collection: str, href: str, etag: str | None) -> None:
        """Record one synced resource."""
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO dav_items (account, collection, href, etag)"
                " VALUES (?, ?, ?, ?)",
                (account, collection, href, etag),
            )

    def drop_item(self, account: str, collection: str, href: str) -> None:
        """Forget one resource."""
        with self.conn:
            self.conn.execute(
                "DELETE FROM dav_items WHERE account = ? AND collection = ? AND href = ?",
                (account, collection, href),
            )

    def save_collection(self, account: str, col: DavCollection) -> None:
        """Record a finished collection sync (its new ctag and token)."""
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO dav_collections (account, url, kind, name, ctag,"
                " sync_token, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (account, col.url, col.kind, col.name, col.ctag, col.sync_token, now_ts()),
            )

    def drop_collection(self, account: str, url: str) -> None:
        """Forget a collection and its items."""
        with self.conn:
            self.conn.execute(
                "DELETE FROM dav_collections WHERE account = ? AND url = ?", (account, url)
            )
            self.conn.execute(
                "DELETE FROM dav_items WHERE account = ? AND collection = ?", (account, url)
            )


@dataclass(slots=True)
class _Resource:
    href: str
    status: int
    props: dict[str, Any]


def _status_code(text: str | None) -> int:
    parts = (text or "").split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _path(href: str) -> str:
    return unquote(urlsplit(href).path)


def parse_multistatus(tree: Any) -> tuple[list[_Resource], str | None]:
    """Responses of a 207 body (only 200 propstats' props) and the top-level sync-token."""
    resources = []
    if tree is None:
        return [], None
    for response in tree.iter(f"{{{D}}}response"):
        href = response.findtext(f"{{{D}}}href") or ""
        status = _status_code(response.findtext(f"{{{D}}}status")) or 200
        props: dict[str, Any] = {}
        for propstat in response.findall(f"{{{D}}}propstat"):
            if _status_code(propstat.findtext(f"{{{D}}}status")) != 200:
                continue
            container = propstat.find(f"{{{D}}}prop")
            for prop in container if container is not None else ():
                props[prop.tag] = prop
        resources.append(_Resource(_path(href.strip()), status, props))
    token = tree.findtext(f"{{{D}}}sync-token")
    return resources, token


def _text(props: dict[str, Any], tag: str) -> str | None:
    element = props.get(tag)
    if element is None:
        return None
    return (element.text or "").strip() or None


class DavSession:
    """Thin WebDAV layer over :class:`caldav.DAVClient` returning parsed multistatus."""

    def __init__(self, account: DavAccount, client: Any = None):
        if client is None:
            from caldav.davclient import DAVClient

            client = DAVClient(
                url=account.url,
                username=account.username,
                password=account.password.get_secret_value(),
                ssl_verify_cert=account.verify_tls,
                timeout=60,
            )
        self.client = client
        self.base = account.url if account.url.endswith("/") else account.url + "/"

    def absolute(self, href: str) -> str:
        """Server-relative href -> absolute URL."""
        return urljoin(self.base, href)

    def request(self, method: str, url: str, body: str, depth: int | None) -> tuple[int, Any]:
        """Send one request; returns ``(status, parsed XML tree or None)``."""
        headers = {"Content-Type": 'application/xml; charset="utf-8"'}
        if depth is not None:
            headers["Depth"] = str(depth)
        response = self.client.request(self.absolute(url), method, body, headers)
        return int(response.status), getattr(response, "tree", None)

    def propfind(self, url: str, props: str, depth: int) -> list[_Resource]:
        """PROPFIND ``props`` (XML fragments); raises :class:`SyncError` on failure."""
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><d:propfind {_XMLNS}>'
            f"<d:prop>{props}</d:prop></d:propfind>"
        )
        status, tree = self.request("PROPFIND", url, body, depth)
        if status != 207:
            raise SyncError(f"PROPFIND {url} failed with HTTP {status}")
        return parse_multistatus(tree)[0]


def _href_of(resources: list[_Resource], tag: str) -> str | None:
    for res in resources:
        element = res.props.get(tag)
        if element is not None:
            href = element.findtext(f"{{{D}}}href")
            if href:
                return _path(href.strip())
    return None


def discover(session: DavSession) -> list[DavCollection]:
    """Calendars (with VEVENT support) and address books of the logged-in principal."""
    found = session.propfind("", "<d:current-user-principal/>", 0)
    principal = _href_of(found, f"{{{D}}}current-user-principal") or _path(session.base)
    homes_res = session.propfind(principal, "<c:calendar-home-set/><cr:addressbook-home-set/>", 0)
    homes = {
        h
        for h in (
            _href_of(homes_res, f"{{{C}}}calendar-home-set"),
            _href_of(homes_res, f"{{{CR}}}addressbook-home-set"),
        )
        if h
    } or {principal}
    collections: dict[str, DavCollection] = {}
    props = (
        "<d:resourcetype/><d:displayname/><cs:getctag/><d:sync-token/>"
        "<c:supported-calendar-component-set/>"
    )
    for home in sorted(homes):
        for res in session.propfind(home, props, 1):
            rtype = res.props.get(f"{{{D}}}resourcetype")
            if rtype is None:
                continue
            kinds = {child.tag for child in rtype}
            kind: Kind
            if f"{{{C}}}calendar" in kinds:
                comps = res.props.get(f"{{{C}}}supported-calendar-component-set")
                names = {c.get("name") for c in comps} if comps is not None else {"VEVENT"}
                if "VEVENT" not in names:
                    continue  # task lists and journals
                kind = "calendar"
            elif f"{{{CR}}}addressbook" in kinds:
                kind = "addressbook"
            else:
                continue
            name = _text(res.props, f"{{{D}}}displayname") or res.href.rstrip("/").split("/")[-1]
            collections[res.href] = DavCollection(
                res.href,
                kind,
                name,
                _text(res.props, f"{{{CS}}}getctag"),
                _text(res.props, f"{{{D}}}sync-token"),
            )
    return list(collections.values())


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Syncer:
    def __init__(
        self,
        account: DavAccount,
        session: DavSession,
        state: DavState,
        calendars: CalendarStore,
        contacts: ContactStore,
    ):
        self.account, self.session, self.state = account, session, state
        self.calendars, self.contacts = calendars, contacts

    def source(self, href: str) -> str:
        return f"dav:{self.account.name}:{href}"

    def changes(
        self, col: DavCollection, stored: DavCollection | None, report: CollectionReport
    ) -> tuple[dict[str, str | None], list[str], str | None]:
        """(changed {href: etag}, deleted hrefs, new sync token)."""
        known = self.state.items(self.account.name, col.url)
        if stored is not None and stored.sync_token and col.sync_token:
            body = (
                f'<?xml version="1.0" encoding="utf-8"?><d:sync-collection {_XMLNS}>'
                f"<d:sync-token>{escape(stored.sync_token)}</d:sync-token>"
                "<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"
            )
            try:
                status, tree = self.session.request("REPORT", col.url, body, None)
            except Exception as exc:  # noqa: BLE001 - caldav raises on 403 (expired token)
                status, tree = 0, None
                log.info("sync-collection on %s failed (%s); comparing etags", col.url, exc)
            if status == 207:
                resources, token = parse_multistatus(tree)
                changed: dict[str, str | None] = {}
                deleted: list[str] = []
                for res in resources:
                    if res.href.rstrip("/") == col.url.rstrip("/"):
                        continue
                    if res.status == 404:
                        deleted.append(res.href)
                    else:
                        changed[res.href] = _text(res.props, f"{{{D}}}getetag")
                report.mode = "sync-token"
                return changed, [h for h in deleted if h in known], token or col.sync_token
        # Full comparison: list every item's etag.
        report.mode = "etag"
        current = {
            res.href: _text(res.props, f"{{{D}}}getetag")
            for res in self.session.propfind(col.url, "<d:getetag/>", 1)
            if res.href.rstrip("/") != col.url.rstrip("/") and res.status == 200
        }
        changed = {h: e for h, e in current.items() if h not in known or known[h] != e}
        return changed, [h for h in known if h not in current], col.sync_token

    def fetch(self, col: DavCollection, hrefs: list[str]) -> Iterator[tuple[str, str | None, str]]:
        """(href, etag, text) of each resource, via multiget in batches."""
        if col.kind == "calendar":
            root, data = "c:calendar-multiget", "<c:calendar-data/>"
            tag = f"{{{C}}}calendar-data"
        else:
            root, data = "cr:addressbook-multiget", "<cr:address-data/>"
            tag = f"{{{CR}}}address-data"
        for batch in _chunks(hrefs, 50):
            refs = "".join(f"<d:href>{escape(h)}</d:href>" for h in batch)
            body = (
                f'<?xml version="1.0" encoding="utf-8"?><{root} {_XMLNS}>'
                f"<d:prop><d:getetag/>{data}</d:prop>{refs}</{root}>"
            )
            status, tree = self.session.request("REPORT", col.url, body, None)
            if status != 207:
                raise SyncError(f"multiget on {col.url} failed with HTTP {status}")
            for res in parse_multistatus(tree)[0]:
                text = _text(res.props, tag)
                if res.status == 200 and text is not None:
                    yield res.href, _text(res.props, f"{{{D}}}getetag"), text

    def apply(self, col: DavCollection, href: str, text: str, report: CollectionReport) -> None:
        user, source = self.account.user, self.source(href)
        if col.kind == "calendar":
            parsed = parse_ics(text, source)
            report.failures.extend(parsed.failures)
            self.calendars.replace_source(user, source, parsed.components, calendar=col.name)
        else:
            cards = parse_vcf(text, source)
            report.failures.extend(cards.failures)
            self.contacts.replace_source(user, source, cards.cards)

    def remove(self, col: DavCollection, href: str) -> None:
        if col.kind == "calendar":
            self.calendars.delete_source(self.account.user, self.source(href))
        else:
            self.contacts.delete_source(self.account.user, self.source(href))
        self.state.drop_item(self.account.name, col.url, href)

    def sync(self, col: DavCollection, stored: DavCollection | None) -> CollectionReport:
        report = CollectionReport(col.url, col.kind, col.name)
        if (
            stored is not None
            and (col.ctag or col.sync_token)
            and (stored.ctag, stored.sync_token) == (col.ctag, col.sync_token)
        ):
            return report
        changed, deleted, token = self.changes(col, stored, report)
        for href in deleted:
            self.remove(col, href)
        report.deleted = len(deleted)
        fetched: set[str] = set()
        for href, etag, text in self.fetch(col, sorted(changed)):
            self.apply(col, href, text, report)
            self.state.put_item(self.account.name, col.url, href, etag or changed.get(href))
            fetched.add(href)
        report.changed = len(fetched)
        for href in set(changed) - fetched:  # listed as changed but gone by the time we asked
            if href in self.state.items(self.account.name, col.url):
                self.remove(col, href)
                report.deleted += 1
        col.sync_token = token
        self.state.save_collection(self.account.name, col)
        return report


def sync_dav_account(
    account: DavAccount,
    state: DavState,
    calendars: CalendarStore,
    contacts: ContactStore,
    *,
    progress: OnDavProgress | None = None,
    client: Any = None,
) -> DavSyncReport:
    """Sync every calendar and address book of ``account`` once (see the module docstring)."""
    report = DavSyncReport(account.name)
    session = DavSession(account, client)
    try:
        collections = discover(session)
    except SyncError:
        raise
    except Exception as exc:
        raise SyncError(
            f"cannot list collections at {account.url} as {account.username}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    syncer = _Syncer(account, session, state, calendars, contacts)
    stored = state.collections(account.name)
    for col in collections:
        if progress is not None:
            progress(account.name, col.name, "syncing")
        try:
            report.collections.append(syncer.sync(col, stored.get(col.url)))
        except Exception as exc:  # noqa: BLE001 - one bad collection must not stop the rest
            log.warning("DAV sync of %s failed: %s", col.url, exc)
            report.errors.append((col.url, f"{type(exc).__name__}: {exc}"))
    for url in set(stored) - {c.url for c in collections}:
        gone = stored[url]
        removed = CollectionReport(url, gone.kind, gone.name, mode="removed")
        for href in state.items(account.name, url):
            syncer.remove(gone, href)
            removed.deleted += 1
        state.drop_collection(account.name, url)
        report.collections.append(removed)
    return report


def all_items(reports: Iterable[CollectionReport]) -> tuple[int, int]:
    """Total (changed, deleted) over collection reports."""
    changed = deleted = 0
    for r in reports:
        changed += r.changed
        deleted += r.deleted
    return changed, deleted
