"""The lock (``constraints.txt``) and ``pyproject.toml`` agree: every dependency is pinned, at a
version its specifier allows. Refresh the lock with ``make lock`` when this fails."""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from core.settings import REPO_ROOT

LOCK = REPO_ROOT / "constraints.txt"
#: The extras ``make install`` installs (and ``make lock`` locks).
EXTRAS = ("dev", "llamacpp", "eval", "postgres")


def _requirements() -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in EXTRAS:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return reqs


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for raw in LOCK.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        assert "==" in line and " @ " not in line, f"not an exact pin in {LOCK.name}: {raw!r}"
        name, version = line.split("==", 1)
        pins[canonicalize_name(name)] = Version(version.split(";")[0].strip())
    return pins


def test_every_dependency_is_pinned_at_an_allowed_version() -> None:
    pins = _pins()
    missing: list[str] = []
    wrong: list[str] = []
    for req in _requirements():
        if req.marker is not None and not any(
            req.marker.evaluate({"extra": e}) for e in ("", *EXTRAS)
        ):
            continue  # not for this platform / Python
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None:
            missing.append(req.name)
        elif not req.specifier.contains(pinned, prereleases=True):
            wrong.append(f"{req.name}=={pinned} (pyproject wants {req.specifier})")
    assert not missing, f"not in {LOCK.name}: {', '.join(missing)}; run `make lock`"
    assert not wrong, f"{LOCK.name} pins versions pyproject excludes: {'; '.join(wrong)}"


def test_lock_pins_each_package_once_and_torch_as_tested() -> None:
    names = [
        canonicalize_name(line.split("==", 1)[0])
        for line in LOCK.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(names) == len(set(names))
    assert "mailmind" not in names  # the project itself is installed editable, never pinned
    # The CPU build on the machine's disk; a local label ("+cpu") would not match elsewhere.
    assert _pins()["torch"] == Version("2.13.0")


def test_installs_use_the_lock() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "LOCK := constraints.txt" in makefile
    # The install stamp (behind `make serve` and `make test`) installs under the lock...
    assert f"install --quiet -c $(LOCK) -e '.[{','.join(EXTRAS)}]'" in makefile
    assert "$(STAMP): pyproject.toml Makefile $(LOCK)" in makefile
    # ...and `make lock` refreshes it.
    assert "\nlock:" in makefile
