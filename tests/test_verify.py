"""The fresh-metrics check CI runs after executing the chapters (issue #25)."""

import json

import pytest

from scale_lib.book import env
from scale_lib.book.verify import compare_metrics


def test_equal_metrics_pass_and_every_kind_of_difference_is_named():
    old = {"acc": 0.75, "n": 300, "name": "llama", "by_seed": [0.5, 0.6], "share": {"qk.scale": 0.4}, "nan": float("nan")}
    assert compare_metrics(json.loads(json.dumps(old)), old) == []
    new = {"acc": 0.7500001, "n": 300, "name": "qwen", "by_seed": [0.5, 0.61], "share": {"qk.scale": 0.4}, "extra": 1, "nan": float("nan")}
    problems = compare_metrics(new, old)
    assert any(p.startswith("acc: 0.75 committed, 0.7500001 now") for p in problems)
    assert any(p.startswith("name: 'llama' committed, 'qwen' now") for p in problems)
    assert any(p.startswith("by_seed.1:") for p in problems)
    assert any(p.startswith("extra: new in this run") for p in problems)
    assert not any(p.startswith("share") or p.startswith("nan") for p in problems)
    assert any("not written by this run" in p for p in compare_metrics({"acc": 0.75}, {"acc": 0.75, "gone": 1}))


def test_a_stated_tolerance_covers_its_key_and_everything_under_it():
    tol = {"_tolerances": {"seconds": {"abs": 30, "rel": 0.5, "why": "wall clock"}, "kl": {"abs": 1e-3, "rel": 0, "why": "float drift"}}}
    old = {"seconds": 100.0, "kl": [3.38281, 1.0], "acc": 0.5, **tol}
    assert compare_metrics({"seconds": 170.0, "kl": [3.3835, 1.0005], "acc": 0.5, **tol}, old) == []
    problems = compare_metrics({"seconds": 190.0, "kl": [3.3855, 1.0], "acc": 0.5, **tol}, old)
    assert len(problems) == 2 and all("its stated tolerance" in p for p in problems)


def test_save_metrics_stores_tolerances_with_their_reasons(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALE_LIB_FIGURES", str(tmp_path))
    monkeypatch.setenv("SCALE_LIB_FAST", "0")
    path = env.save_metrics("99_test", {"t": 1.0, "a": 2}, tolerances={"t": (5, 0.5, "a timing")})
    saved = json.loads(path.read_text())
    assert saved["_tolerances"] == {"t": {"abs": 5.0, "rel": 0.5, "why": "a timing"}}
    with pytest.raises(ValueError, match="must be \\(abs, rel, 'why'\\)"):
        env.save_metrics("99_test", {"t": 1.0}, tolerances={"t": (5, 0.5, "")})
    with pytest.raises(ValueError, match="keys the metrics do not have: \\['u'\\]"):
        env.save_metrics("99_test", {"t": 1.0}, tolerances={"u": (5, 0.5, "x")})
