"""`mailmind sync` and the .ics/.vcf ingest helpers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from api.cli import build_app
from core.settings import Settings
from retrieval.ingest.dispatch import ingest_pim_path
from retrieval.sources.sync.run import run_sync
from retrieval.store.pim import open_pim
from tests.retrieval.sources.sync.conftest import radicale  # noqa: F401 - the real-server fixture
from tests.retrieval.sources.sync.servers import Radicale

ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x@t\r\nDTSTART:20240603T090000Z\r\n"
    "SUMMARY:Review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
VCF = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nEMAIL:ann@example.com\r\nEND:VCARD\r\n"


def _app() -> typer.Typer:
    return build_app()


def test_ingest_pim_paths(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    (tmp_path / "cal.ics").write_text(ICS)
    (tmp_path / "people").mkdir()
    (tmp_path / "people" / "ann.vcf").write_text(VCF)
    (tmp_path / "mail.eml").write_text("Subject: hi\n\nbody\n")
    cal = ingest_pim_path(settings, "u", tmp_path / "cal.ics")
    assert cal is not None and cal["kind"] == "calendar" and cal["inserted"] == 1
    people = ingest_pim_path(settings, "u", tmp_path / "people")
    assert people is not None and people["kind"] == "contacts" and people["inserted"] == 1
    assert ingest_pim_path(settings, "u", tmp_path / "mail.eml") is None
    pim = open_pim(settings)
    assert pim.contacts.lookup("u", "ann")[0].contact.emails == ["ann@example.com"]
    pim.close()


def test_imap_is_skipped_until_mail_ingestion_is_wired(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path,
            "sync": {
                "imap": [
                    {
                        "name": "work",
                        "user": "u",
                        "host": "127.0.0.1",
                        "port": 1,
                        "username": "x",
                        "password": "secret",
                    }
                ]
            },
        }
    )
    summary = run_sync(settings)
    assert summary["imap"] == [{"account": "work", "skipped": "mail ingestion not wired"}]


@pytest.mark.server
@pytest.mark.integration
def test_sync_command_json(
    radicale: Radicale,  # noqa: F811 - the imported fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = httpx.Client(base_url=radicale.url, auth=("bob", "pw"))
    client.request("PROPFIND", "/bob/", headers={"Depth": "0"})
    assert client.request("MKCALENDAR", "/bob/home/").status_code == 201
    client.put("/bob/home/x.ics", content=ICS, headers={"Content-Type": "text/calendar"})
    account = {
        "name": "rad",
        "user": "bob",
        "url": radicale.url,
        "username": "bob",
        "password": "pw",
    }
    monkeypatch.setenv("MAILMIND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MAILMIND_SYNC__DAV", json.dumps([account]))
    runner = CliRunner()
    result = runner.invoke(_app(), ["sync", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    (dav,) = summary["dav"]
    assert dav["collections"][0]["changed"] == 1
    assert "pw" not in result.output.replace('"pw"', "")  # the password is never printed

    missing = runner.invoke(_app(), ["sync", "--account", "nope", "--json"])
    assert missing.exit_code == 2
