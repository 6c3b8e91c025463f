"""The evaluation harness without models: intervals, paired comparisons, format checks, report
files, fingerprints and the CLI's errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import build_app
from core.errors import InputError
from core.settings import Settings
from evals.harness.compare import compare_reports, format_comparison
from evals.harness.formats import DatasetFormatError, check_aeslc, check_bc3, check_maildir
from evals.harness.meta import fingerprint, run_meta
from evals.harness.report import Report, system_from_rows
from evals.harness.stats import bootstrap_ci, paired_bootstrap, percentile_stat
from evals.harness.writer import format_table, read_report, write_report
from evals.prompt_evals import saved_score


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_more_data() -> None:
    small = [0.0, 1.0] * 10
    ci = bootstrap_ci(small)
    assert ci.value == pytest.approx(0.5) and ci.lo < 0.5 < ci.hi
    wide = ci.hi - ci.lo
    big = bootstrap_ci([0.0, 1.0] * 500)
    assert big.hi - big.lo < wide / 3
    assert bootstrap_ci(small) == ci  # fixed seed: reproducible
    const = bootstrap_ci([0.7] * 9)
    assert (const.lo, const.value, const.hi) == pytest.approx((0.7, 0.7, 0.7))
    assert math.isnan(bootstrap_ci([]).value)
    p95 = bootstrap_ci([float(i) for i in range(100)], stat=percentile_stat(95))
    assert p95.value == pytest.approx(94.05) and p95.lo <= p95.value <= p95.hi


def test_paired_bootstrap_detects_a_consistent_shift_only() -> None:
    old = [0.1 * (i % 7) for i in range(60)]
    same = paired_bootstrap(old, old)
    assert same.delta == 0.0 and not same.significant and same.p_value == 1.0
    better = paired_bootstrap(old, [x + 0.05 for x in old])
    assert better.delta == pytest.approx(0.05) and better.significant and better.p_value < 0.01
    noisy = paired_bootstrap(old, [x + (0.3 if i % 2 else -0.3) for i, x in enumerate(old)])
    assert not noisy.significant
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap([1.0], [1.0, 2.0])


def _report(shift: float, ids: list[str], *, suite: str = "demo") -> Report:
    ours = [{"acc": float(i % 2) * 0.5 + shift, "lat": 1.0} for i in range(len(ids))]
    base = [{"acc": 0.2} for _ in ids]
    return Report(
        suite=suite, primary_metric="acc", n=len(ids), example_ids=ids,
        lower_is_better=["lat"],
        systems=[system_from_rows("ours", "ours", ours, categories=["a", "b"] * (len(ids) // 2)),
                 system_from_rows("base", "baseline", base)],
        meta=run_meta(suite), latencies={"ours": [0.1, 0.2, 0.4]},
    )  # fmt: skip


def test_compare_pairs_same_examples_and_flags_significant_changes() -> None:
    ids = [f"e{i}" for i in range(40)]
    old, new = _report(0.0, ids), _report(0.1, ids)
    c = compare_reports(old, new)
    assert c.paired
    acc = next(d for d in c.deltas if d.system == "ours" and d.metric == "acc")
    assert acc.delta == pytest.approx(0.1) and acc.significant and acc.better
    assert acc.paired_ci is not None and acc.paired_ci[0] > 0
    base = next(d for d in c.deltas if d.system == "base")
    assert base.delta == 0.0 and not base.significant
    assert "ours" in format_comparison(c)
    unpaired = compare_reports(old, _report(0.1, [f"x{i}" for i in range(40)]))
    assert not unpaired.paired and all(d.paired_ci is None for d in unpaired.deltas)
    with pytest.raises(InputError, match="cannot compare"):
        compare_reports(old, _report(0.0, ids, suite="other"))


def test_report_files_round_trip(tmp_path: Path) -> None:
    report = _report(0.0, [f"e{i}" for i in range(10)])
    written = write_report(report, tmp_path / "out")
    names = {p.name for p in written}
    assert names == {"demo.json", "demo.md", "demo-scores.png", "demo-latency.png",
                     "demo-breakdown.png"}  # fmt: skip
    for png in (p for p in written if p.suffix == ".png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "out" / "demo.md").read_text()
    assert "| ours | ours |" in md and "![demo-scores](demo-scores.png)" in md
    again = read_report(tmp_path / "out")
    assert again == report
    assert "ours" in format_table(again)
    with pytest.raises(InputError, match="not a mailmind eval report"):
        (tmp_path / "bad.json").write_text("{}")
        read_report(tmp_path / "bad.json")


def test_format_checks_name_the_expected_format(tmp_path: Path) -> None:
    (tmp_path / "a.subject").write_text("Body.\n\n@subject\nS\n\n@ann0\nA\n")
    assert check_aeslc(tmp_path) == tmp_path
    with pytest.raises(DatasetFormatError, match="AESLC format"):
        check_aeslc(tmp_path / "missing")
    train = tmp_path / "train"
    train.mkdir()
    (train / "b.subject").write_text("Body.\n\n@subject\nS\n")
    with pytest.raises(DatasetFormatError, match="@ann0"):
        check_aeslc(train)
    with pytest.raises(DatasetFormatError, match="BC3 format"):
        check_bc3(tmp_path)
    with pytest.raises(DatasetFormatError, match="RFC 822"):
        check_maildir(train)
    (train / "1.eml").write_text("From: a@b.c\nSubject: hi\n\nbody\n")
    assert check_maildir(train) == train


def test_fingerprint_depends_on_content_not_location(tmp_path: Path) -> None:
    for name in ("x", "y"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f.txt").write_text("same")
    assert fingerprint(tmp_path / "x") == fingerprint(tmp_path / "y")
    (tmp_path / "y" / "f.txt").write_text("changed")
    assert fingerprint(tmp_path / "x") != fingerprint(tmp_path / "y")
    meta = run_meta("demo", dataset=tmp_path / "x", prompts=["summarize_message"])
    assert meta.prompts == {"summarize_message": 1} or meta.prompts["summarize_message"] >= 1
    assert meta.dataset_fingerprint == fingerprint(tmp_path / "x") and meta.machine["cpus"]


def test_saved_prompt_scores(tmp_path: Path) -> None:
    path = tmp_path / "prompts.json"
    assert saved_score("summarize_message", path) is None
    path.write_text(json.dumps({"summarize_message": {"score": 0.3, "ci": [0.2, 0.4],
                                                      "version": "1"}}))  # fmt: skip
    assert saved_score("summarize_message", path) == {"score": 0.3, "ci": [0.2, 0.4],
                                                      "version": "1"}  # fmt: skip
    assert saved_score("assistant_answer", path) is None


@pytest.mark.parametrize(
    ("suite", "folder", "expected"),
    [
        ("subject-lines", ("summaries", "bc3_dev"), "AESLC format"),
        ("summaries", ("summaries", "aeslc_dev"), "BC3 format"),
        ("retrieval", ("mail", "enron_maildir"), "BC3 format"),
    ],
)
def test_cli_wrong_dataset_format_exits_2_naming_the_format(
    tmp_path: Path, suite: str, folder: tuple[str, str], expected: str
) -> None:
    from tests.conftest import shared_path

    app = build_app(Settings(data_dir=tmp_path))  # type: ignore[call-arg]
    res = CliRunner().invoke(app, ["eval", suite, "--dataset", str(shared_path(*folder))])
    assert res.exit_code == 2, res.output
    assert expected in res.output


def test_cli_compare_and_bad_runtime(tmp_path: Path) -> None:
    ids = [f"e{i}" for i in range(20)]
    write_report(_report(0.0, ids), tmp_path / "old")
    write_report(_report(0.2, ids), tmp_path / "new")
    app = build_app(Settings(data_dir=tmp_path))  # type: ignore[call-arg]
    res = CliRunner().invoke(app, ["eval", "compare", str(tmp_path / "old"),
                                   str(tmp_path / "new"), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["paired"] and any(d["significant"] for d in out["deltas"])
    res = CliRunner().invoke(app, ["eval", "latency", "--runtime", "nope"])
    assert res.exit_code == 2 and "--runtime" in res.output


def test_prompt_eval_entry_points_cover_real_prompts() -> None:
    from importlib.metadata import entry_points

    from evals.prompt_evals import PROMPT_SUITES, evaluate_prompt
    from evals.suites import SUITES
    from prompts import list_prompts, load_prompt

    eps = {ep.name: ep for ep in entry_points(group="mailmind.prompt_evals")}
    assert set(eps) == set(PROMPT_SUITES)
    assert set(PROMPT_SUITES) <= set(list_prompts())
    assert all(suite in SUITES for suite, _ in PROMPT_SUITES.values())
    assert all(ep.load() is evaluate_prompt for ep in eps.values())
    with pytest.raises(InputError, match="no eval suite"):
        evaluate_prompt(load_prompt("draft_reply"), limit=1, services=None)  # type: ignore[arg-type]


def test_readme_results_script_rewrites_only_the_marked_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "eval_results", Path(__file__).resolve().parents[2] / "scripts" / "eval_results.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "SAVED", tmp_path / "prompts.json")
    ids = [f"e{i}" for i in range(30)]
    write_report(_report(0.3, ids), tmp_path / "results" / "eval-demo")
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- eval-results:start -->\nold\n<!-- eval-results:end -->\nrest\n")
    assert module.main([str(tmp_path / "results"), str(readme), "--check"]) == 1
    assert module.main([str(tmp_path / "results"), str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("rest\n") and "old" not in text
    assert "| demo | demo (30) | acc | " in text and "wins (paired" in text
    assert module.main([str(tmp_path / "results"), str(readme), "--check"]) == 0
    readme.write_text("no markers")
    assert module.main([str(tmp_path / "results"), str(readme)]) == 2
