"""The openai runtime against a real OpenAI-compatible server: llama-cpp-python's server on
127.0.0.1, serving the same GGUF (needs ``llama-cpp-python[server]``)."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import BaseModel

from agents.llm.chat_model import MailmindChatModel
from agents.llm.registry import ModelRegistry
from agents.llm.runtimes.openai import OpenAIRuntime
from agents.llm.types import ChatMessage, GenerationConfig
from core.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.server, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(llm_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for module in ("llama_cpp", "sse_starlette", "starlette_context", "pydantic_settings"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} missing: pip install 'llama-cpp-python[server]'")
    gguf = ModelRegistry(llm_settings).resolve().path
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm2"]
    # The server logs ~200 kB while loading: a file, not a pipe nobody drains (it would block).
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                err = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {err}")
            try:
                if httpx.get(f"{url}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not come up within 60 s")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def runtime(server_url: str) -> Iterator[OpenAIRuntime]:
    rt = OpenAIRuntime(server_url, model_name="smollm2", timeout_s=120)
    yield rt
    rt.close()


HELLO: list[ChatMessage] = [{"role": "user", "content": "What is the capital of France?"}]


def test_generate_and_stream(runtime: OpenAIRuntime) -> None:
    done = runtime.generate(HELLO, GenerationConfig(max_tokens=16))
    assert done.text.strip() and done.finish_reason in {"stop", "length"}
    deltas = list(runtime.stream(HELLO, GenerationConfig(max_tokens=16)))
    assert len(deltas) > 2 and "".join(d.text for d in deltas) == done.text


class Triage(BaseModel):
    intent: str
    urgent: bool


@pytest.mark.xfail(
    reason="llama-cpp-python 0.3.36's server turns the JSON schema into a grammar whose strings "
    "admit raw control characters, and 48 tokens cut the object: the text is not valid JSON. "
    "The in-process runtimes (llguidance) are tested schema-valid in test_runtimes_real.py.",
    strict=False,
)
def test_structured_output_valid(runtime: OpenAIRuntime) -> None:
    schema = Triage.model_json_schema()
    for prompt in ("Server down, fix ASAP!", "Lunch on Friday?", "Newsletter: spring tips"):
        messages: list[ChatMessage] = [
            {"role": "system", "content": "Triage the email as JSON."},
            {"role": "user", "content": prompt},
        ]
        text = runtime.generate(messages, GenerationConfig(max_tokens=48, json_schema=schema)).text
        Triage.model_validate_json(text)


def test_langchain_over_server(runtime: OpenAIRuntime) -> None:
    model = MailmindChatModel(runtime=runtime, max_tokens=48)
    assert isinstance(model.with_structured_output(Triage).invoke("Flood in the office!"), Triage)
