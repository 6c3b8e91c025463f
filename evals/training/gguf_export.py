"""Export a Hugging Face model folder to GGUF with llama.cpp's own converter.

The converter (``convert_hf_to_gguf.py`` with its ``conversion`` package and the ``gguf-py`` it is
written against) is not in any wheel: it ships in the llama.cpp tree vendored by the
``llama-cpp-python`` sdist - the same release this project builds its llama.cpp runtime from. The
sdist is fetched once from PyPI (pinned URL and sha256), only the converter's files are unpacked
into a cache, and the converter runs in a subprocess with that ``gguf-py`` first on the path (the
``gguf`` wheel installed for transformers is a different release). ``MAILMIND_LLAMA_CPP_DIR``
points at a llama.cpp checkout instead, for machines without registry access.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import ModelError

#: The sdist of the llama-cpp-python release in constraints.txt (its llama.cpp is what we run).
SDIST_VERSION = "0.3.36"
SDIST_URL = (
    "https://files.pythonhosted.org/packages/ec/e9/"
    "e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca773a59fe7cf3/"
    f"llama_cpp_python-{SDIST_VERSION}.tar.gz"
)
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
_MEMBERS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")
OUTTYPES = ("q8_0", "f16", "bf16", "f32")


def _cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "mailmind" / f"llama-cpp-convert-{SDIST_VERSION}"


def _download(url: str, dest: Path) -> str:
    import httpx

    digest = hashlib.sha256()
    with httpx.stream("GET", url, timeout=120, follow_redirects=True) as resp:
        resp.raise_for_status()
        with dest.open("wb") as fh:
            for block in resp.iter_bytes(1 << 20):
                fh.write(block)
                digest.update(block)
    return digest.hexdigest()


def converter_dir(log: Callable[[str], Any] = lambda _m: None) -> Path:
    """A folder holding ``convert_hf_to_gguf.py``, ``conversion/`` and ``gguf-py/``."""
    override = os.environ.get("MAILMIND_LLAMA_CPP_DIR")
    if override:
        folder = Path(override)
        if not (folder / "convert_hf_to_gguf.py").is_file():
            raise ModelError(f"MAILMIND_LLAMA_CPP_DIR={folder} has no convert_hf_to_gguf.py")
        return folder
    folder = _cache_root()
    if (folder / "convert_hf_to_gguf.py").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".fetch-") as tmp:
        archive = Path(tmp) / "sdist.tar.gz"
        log(f"fetching llama.cpp's converter from the llama-cpp-python {SDIST_VERSION} sdist")
        try:
            digest = _download(SDIST_URL, archive)
        except Exception as exc:  # any network failure reads the same to a user
            raise ModelError(
                f"could not fetch {SDIST_URL} ({exc}); set MAILMIND_LLAMA_CPP_DIR to a llama.cpp "
                "checkout to export GGUF offline"
            ) from exc
        if digest != SDIST_SHA256:
            raise ModelError(f"sha256 mismatch for {SDIST_URL}: got {digest}; nothing was cached")
        staged = Path(tmp) / "convert"
        prefix = f"llama_cpp_python-{SDIST_VERSION}/vendor/llama.cpp/"
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                rel = member.name.removeprefix(prefix)
                if member.name.startswith(prefix) and rel.startswith(_MEMBERS) and member.isfile():
                    member.name = rel
                    tar.extract(member, staged, filter="data")
        if not (staged / "convert_hf_to_gguf.py").is_file():
            raise ModelError(f"the {SDIST_VERSION} sdist has no convert_hf_to_gguf.py")
        try:
            staged.rename(folder)
        except OSError:
            # Another process unpacked it first: use theirs.
            if not (folder / "convert_hf_to_gguf.py").is_file():
                raise
    return folder


def export_gguf(
    model_dir: Path, target: Path, *, outtype: str = "q8_0", log: Callable[[str], Any] = print
) -> dict[str, Any]:
    """Convert ``model_dir`` (safetensors + tokenizer) to ``target``; returns what happened.

    Failures are reported in the result (``ok: false`` with the reason), not raised: the merged
    model is still usable with the transformers runtime.
    """
    if outtype not in OUTTYPES:
        raise ModelError(f"unknown GGUF type {outtype!r}; one of {', '.join(OUTTYPES)}")
    try:
        folder = converter_dir(log)
    except ModelError as exc:
        return {"ok": False, "reason": str(exc)}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder / "gguf-py"), str(folder)]))
    env["HF_HUB_OFFLINE"] = "1"
    partial = target.with_name(target.name + ".part")
    cmd = [sys.executable, str(folder / "convert_hf_to_gguf.py"), str(model_dir),
           "--outfile", str(partial), "--outtype", outtype]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=1800)
    if proc.returncode != 0 or not partial.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        partial.unlink(missing_ok=True)
        return {"ok": False, "reason": "convert_hf_to_gguf failed: " + " | ".join(tail)}
    shutil.move(partial, target)
    log(f"exported {target} ({target.stat().st_size / 1e6:.0f} MB, {outtype})")
    return {"ok": True, "file": target.name, "outtype": outtype,
            "converter": f"llama.cpp from llama-cpp-python {SDIST_VERSION}"}  # fmt: skip
