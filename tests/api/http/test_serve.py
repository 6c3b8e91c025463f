"""``mailmind serve``: a real process on a free port ingests the demo data, prints a working key
and a curl line, answers ``/v1/search``, and exits 0 on SIGTERM; the demo key is rotated."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from api.cli.serve import DEMO_KEY_NAME, curl_line, prepare_demo
from api.services import Services
from core.settings import REPO_ROOT, Settings
from tests.api.http.conftest import free_port

KEY_RE = re.compile(r"\b(mm_[0-9a-f]+_[A-Za-z0-9_-]+)")
START_TIMEOUT_S = 600  # demo ingest + model loading on a busy 2-core machine


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://127.0.0.1:8000"),
        ("::", "http://[::1]:8000"),
    ],
)
def test_curl_line_targets_a_reachable_address(host: str, base: str) -> None:
    line = curl_line(host, 8000, "mm_abc_secret")
    assert line.startswith("curl -H 'Authorization: Bearer mm_abc_secret' ")
    assert f"'{base}/v1/search?q=" in line


@pytest.mark.integration
def test_prepare_demo_rotates_the_demo_key(http_services: Services) -> None:
    first = prepare_demo(http_services)  # demo has mail already: no ingest, just a key
    other = [k.key_id for k in http_services.keys.list("demo") if k.name != DEMO_KEY_NAME]
    second = prepare_demo(http_services)
    assert first != second
    assert http_services.keys.verify(first) is None  # revoked
    key = http_services.keys.verify(second)
    assert key is not None and key.user == "demo" and key.scopes == frozenset({"user"})
    # Keys of other names are left alone.
    live = {k.key_id for k in http_services.keys.list("demo") if not k.revoked}
    assert set(other) <= live


def _pump(stream: object, lines: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.append(line)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.server
def test_serve_process(tmp_path: Path, llm_settings: Settings) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "models").symlink_to(llm_settings.model_cache_dir)
    port = free_port()
    env = {
        **os.environ,
        "MAILMIND_DATA_DIR": str(data),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "COLUMNS": "80",  # long lines must still come out whole (soft wrap)
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=_pump, args=(proc.stderr, lines), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, "serve exited early:\n" + "".join(lines[-40:])
            assert time.monotonic() < deadline, "serve did not start:\n" + "".join(lines[-40:])
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        out = "".join(lines)
        keys = KEY_RE.findall(out)
        assert keys, out
        token = keys[0]
        curl = next(line for line in lines if line.strip().startswith("curl "))
        assert token in curl and f"127.0.0.1:{port}/v1/search?q=" in curl

        r = httpx.get(
            f"{base}/v1/search",
            params={"q": "housing quote", "limit": 5},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert results and any("housing" in h["subject"].lower() for h in results)
        r = httpx.get(f"{base}/v1/search", params={"q": "x"}, timeout=10)
        assert r.status_code == 401

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, "".join(lines[-40:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        reader.join(timeout=10)
