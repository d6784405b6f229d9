"""The small helpers: book switches, metrics, exercises, the char LM and the next-token explorer."""

import json

import pytest
import torch

import scale_lib as sl
from scale_lib.book.exercises import check
from scale_lib.data.corpus import CharCorpus
from scale_lib.norms.pretrain import char_llama, evaluate_lm, train_lm
from scale_lib.scaling.response import all_sites, kl_divergence, next_token_probs, scale_response


def test_fast_switch(monkeypatch):
    monkeypatch.setenv("SCALE_LIB_FAST", "1")
    assert sl.is_fast() and sl.pick(10, 2) == 2
    monkeypatch.setenv("SCALE_LIB_FAST", "0")
    assert not sl.is_fast() and sl.pick(10, 2) == 10
    monkeypatch.setenv("SCALE_LIB_FAST", "maybe")
    with pytest.raises(ValueError, match="SCALE_LIB_FAST='maybe'"):
        sl.is_fast()


def test_fast_mode_never_writes_into_figures(monkeypatch):
    monkeypatch.setenv("SCALE_LIB_FAST", "1")
    out = sl.output_dir("zz_test")
    assert sl.repo_root() / "figures" not in out.parents
    path = sl.save_metrics("zz_test", {"a": torch.tensor(0.5), "b": 1})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": 1}
    sl.save_metrics("zz_test", {"c": [1.0, 2.0]})
    assert json.loads(path.read_text()) == {"c": [1.0, 2.0]}  # written whole: no stale key survives a re-run
    with pytest.raises(ValueError, match="plain name"):
        sl.output_dir("../escape")


def test_check_reports_right_wrong_and_unanswered(capsys):
    assert check("q", None, 3) is None
    assert check("q", 3.0001, 3, tol=1e-3) is True
    assert check("q", "  True ", "true") is True
    assert check("q", 4, 3) is False
    assert "expected 3" in capsys.readouterr().out


def test_char_corpus_round_trip_and_batches():
    corpus = CharCorpus.from_pydoc()
    assert corpus.vocab_size == 96
    assert corpus.decode(corpus.encode("return value")) == "return value"
    x, y = corpus.batch("train", 4, 32, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 32) and torch.equal(x[:, 1:], y[:, :-1])
    with pytest.raises(ValueError, match="unknown split 'test'"):
        corpus.batch("test", 4, 32, torch.Generator())
    with pytest.raises(ValueError, match="at least 1000"):
        CharCorpus("too short")


def test_train_lm_learns_and_is_reproducible():
    corpus = CharCorpus.from_pydoc()
    runs = []
    for _ in range(2):
        model = char_llama(corpus.vocab_size, layers=1, hidden=32, heads=4)
        before = evaluate_lm(model, corpus, batches=2)
        hist = train_lm(model, corpus, steps=30, lr=1e-2, batch_size=8, seq_len=32, progress=False)
        runs.append(hist.train_loss)
    assert runs[0] == runs[1], "same seed must give the same losses"
    assert hist.val_loss[-1] < before - 0.5
    assert hist.tokens == 30 * 8 * 32 and hist.tokens_per_second > 0


def test_next_token_probs_and_scale_response(tiny_models):
    model = tiny_models("llama")
    ids = sl.tiny_batch(model, padding="none")["input_ids"]
    p = next_token_probs(model, ids)
    torch.testing.assert_close(p.sum(-1), torch.ones(len(ids)))
    assert kl_divergence(p, p).abs().max() < 1e-12
    assert kl_divergence(p, next_token_probs(model, ids, {"L1.mlp": 0.0})).min() > 0
    sites = all_sites(model)
    assert len(sites) == 2 * (4 + 2)
    df = scale_response(model, ids, sites[:3], [0.0, 1.0, 2.0], progress=False)
    assert len(df) == 9 and set(df.columns) >= {"site", "layer", "kind", "head", "scale", "kl", "p_top", "top_changed"}
    assert (df[df.scale == 1.0].kl.abs() < 1e-12).all() and (df[df.scale == 0.0].kl > 0).all()
    assert sl.count_hooks(model) == 0


def test_explorer_draws_defaults_once_and_redraws_on_change(monkeypatch):
    import ipywidgets as widgets
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("SCALE_LIB_FAST", "1")
    calls = []

    def draw(scale, site):
        import matplotlib.pyplot as plt

        plt.subplots()
        calls.append((scale, site))

    slider, choice = widgets.FloatSlider(value=0.5), widgets.Dropdown(options=["a", "b"], value="a")
    sl.explorer(draw, save=("zz_test", "explorer"), scale=slider, site=choice)
    assert calls == [(0.5, "a")]
    assert (sl.output_dir("zz_test") / "explorer.png").exists()
    slider.value = 2.0
    choice.value = "b"
    assert calls == [(0.5, "a"), (2.0, "a"), (2.0, "b")]
    # every control is labelled, and with its whole label (no "weight de…")
    assert (slider.description, choice.description) == ("scale", "site")
    assert slider.style.description_width == choice.style.description_width == "initial"
    from scale_lib.book.explorer import _EXPLORERS, explorer_check

    check = explorer_check()  # what a live test compares the page's figure with
    assert check["values"] == {"scale": 2.0, "site": "b"} and len(check["pixels"]) == 64
    assert _EXPLORERS[-1][1] == {"scale": slider, "site": choice}
