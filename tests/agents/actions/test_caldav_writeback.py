"""Events from a CalDAV calendar are written back to the server (a real Radicale)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import icalendar
import pytest
from pydantic import SecretStr

from api.services import Services
from core.settings import DavAccount, Settings
from retrieval.sources.sync.dav import sync_dav_account
from tests.retrieval.sources.sync.servers import Radicale
from tests.retrieval.sources.sync.test_dav import MKCALENDAR, _event
from tools.context import AgentContext, Backends

pytestmark = [pytest.mark.server, pytest.mark.integration]


def test_update_and_create_are_written_to_the_caldav_server(
    radicale: Radicale, tmp_path: Path
) -> None:
    dav = httpx.Client(base_url=radicale.url, auth=("alice", "pw"), timeout=10)
    dav.request("PROPFIND", "/alice/", headers={"Depth": "0"})
    assert dav.request("MKCALENDAR", "/alice/work/", content=MKCALENDAR).status_code == 201
    put = dav.put("/alice/work/a.ics", content=_event("a@test", "Alpha review", 3),
                  headers={"Content-Type": "text/calendar"})  # fmt: skip
    assert put.status_code == 201
    account = DavAccount(
        name="radicale", user="alice", url=radicale.url, username="alice", password=SecretStr("pw")
    )
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    settings.sync.dav = [account]
    services = Services(settings)
    try:
        pim = services.pim
        assert not sync_dav_account(account, pim.dav_state, pim.calendars, pim.contacts).errors
        ctx = AgentContext(
            user="alice", now=datetime(2024, 6, 1, 8, tzinfo=UTC), timezone="UTC",
            backends=Backends(store=services.store, calendars=pim.calendars,
                              contacts=pim.contacts),
        )  # fmt: skip
        service = services.actions
        moved = service.propose(ctx, "update_event", "move the alpha review to june 10 at 4pm")
        assert moved.args["event_uid"] == "a@test"
        assert service.decide("alice", moved.id, "approve").status == "executed"
        on_server = icalendar.Calendar.from_ical(dav.get("/alice/work/a.ics").content)
        (ev,) = on_server.walk("VEVENT")
        assert ev["DTSTART"].dt == datetime(2024, 6, 10, 16, tzinfo=UTC)
        assert ev["DTEND"].dt == datetime(2024, 6, 10, 17, tzinfo=UTC)  # length kept
        assert int(ev["SEQUENCE"]) == 1

        created = service.propose(
            ctx, "create_event", "create an event june 12 at 9am called Launch"
        )
        done = service.decide("alice", created.id, "approve")
        assert done.status == "executed", done.result
        href = done.result["caldav"] if done.result else None
        assert href and href.startswith("/alice/work/")
        fetched = icalendar.Calendar.from_ical(dav.get(href).content)
        assert [str(e["SUMMARY"]) for e in fetched.walk("VEVENT")] == ["Launch"]

        # The next sync finds the server and the store agreeing: nothing changes.
        report = sync_dav_account(account, pim.dav_state, pim.calendars, pim.contacts)
        events = pim.calendars.events_between(
            "alice", datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)
        )
        assert sorted(e.summary for e in events) == ["Alpha review", "Launch"]
        assert not report.errors
    finally:
        services.close()
        dav.close()
