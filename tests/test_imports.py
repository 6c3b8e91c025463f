"""Importing any module does no heavy work: no model libraries, no files, no sockets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.settings import REPO_ROOT

PACKAGES = ["core", "retrieval", "tools", "prompts", "agents", "api", "evals"]
# Model libraries take seconds to import and may touch caches; they must load on first use.
HEAVY = ["torch", "transformers", "sentence_transformers", "llama_cpp", "outlines"]

SCRIPT = """
import importlib, json, pkgutil, sys
mods = []
for pkg in {packages}:
    m = importlib.import_module(pkg)
    mods.append(pkg)
    for info in pkgutil.walk_packages(m.__path__, pkg + "."):
        importlib.import_module(info.name)
        mods.append(info.name)
print(json.dumps({{"modules": mods, "heavy": [h for h in {heavy} if h in sys.modules]}}))
"""


def test_importing_every_module_loads_no_heavy_library(tmp_path: Path) -> None:
    code = SCRIPT.format(packages=PACKAGES, heavy=HEAVY)
    res = subprocess.run(  # run in a fresh interpreter: this process may have loaded them
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "MAILMIND_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(out["modules"]) > 10
    assert out["heavy"] == []
    assert not any(tmp_path.iterdir()), "an import wrote to the data dir"
