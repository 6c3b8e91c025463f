"""Fixtures for the real-model tests: SmolLM2-135M from the shared model cache, per runtime."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.llm.registry import ModelRegistry
from agents.llm.types import ChatRuntime
from core.errors import ModelError
from core.settings import REPO_ROOT, Settings

#: transformers is `heavy` (about 80 s of CPU per run here; the default runtime on CPU is
#: llama.cpp): `make test-all` runs it, `make test` runs llama.cpp only.
RUNTIMES = [pytest.param("transformers", marks=pytest.mark.heavy), "llamacpp"]


@pytest.fixture(scope="session")
def llm_settings() -> Settings:
    """Settings on the real data dir's model cache (pulled once, then reused by every run)."""
    data_dir = Path(os.environ.get("MAILMIND_DATA_DIR") or REPO_ROOT / "var")
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    registry = ModelRegistry(settings)
    if not registry.is_available(registry.spec()):
        try:
            registry.pull()
        except ModelError as exc:
            # `make test` pulls the model: in CI its absence is a broken install, not a skip.
            if os.environ.get("CI"):
                pytest.fail(f"could not pull the default model: {exc}")
            pytest.skip(f"could not pull the default model: {exc}")
    return settings


def load(settings: Settings, kind: str) -> ChatRuntime:
    if kind == "llamacpp" and importlib.util.find_spec("llama_cpp") is None:
        if os.environ.get("CI"):
            pytest.fail("llama-cpp-python is not installed although `make test` installs it")
        pytest.skip("llama-cpp-python is not installed (pip install 'mailmind[llamacpp]')")
    from agents.llm.runtimes import load_runtime

    return load_runtime(settings, runtime=kind)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=RUNTIMES)
def runtime(request: pytest.FixtureRequest, llm_settings: Settings) -> Iterator[ChatRuntime]:
    """Each in-process runtime over the default model, loaded once per module."""
    rt = load(llm_settings, request.param)
    yield rt
    rt.close()
