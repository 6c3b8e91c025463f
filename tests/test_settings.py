"""Settings: env prefix, nested sections, and every variable documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from core.settings import REPO_ROOT, Settings, load_settings


def env_names(model: type[BaseModel] = Settings, prefix: str = "MAILMIND_") -> list[str]:
    """Every environment variable the settings read (nested sections joined with __)."""
    names: list[str] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names += env_names(ann, f"{prefix}{name.upper()}__")
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_env_prefix_and_nested_sections(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAILMIND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MAILMIND_STORE__BATCH_SIZE", "7")
    monkeypatch.setenv("MAILMIND_LLM__RUNTIME", "openai")
    s = load_settings()
    assert s.data_dir == tmp_path
    assert s.store.batch_size == 7
    assert s.llm.runtime == "openai"
    assert s.store_path == tmp_path / "mailmind.sqlite3"


def test_default_data_dir_is_var_in_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILMIND_DATA_DIR", raising=False)
    assert Settings(_env_file=None).data_dir == REPO_ROOT / "var"  # type: ignore[call-arg]


@pytest.mark.parametrize("doc", [".env.example", "README.md"])
def test_every_variable_is_documented(doc: str) -> None:
    text = (REPO_ROOT / doc).read_text()
    missing = [n for n in env_names() if n not in text]
    assert not missing, f"{doc} does not document {missing}: run scripts/gen_config_docs.py"


def test_generated_config_docs_are_current() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", REPO_ROOT / "scripts/gen_config_docs.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (REPO_ROOT / ".env.example").read_text() == gen.env_example()
    readme = (REPO_ROOT / "README.md").read_text()
    assert gen.render_readme(readme) == readme, "run scripts/gen_config_docs.py"
