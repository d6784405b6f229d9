"""Graded spatial items, cloze scoring, the calibration and last-token-LoRA baselines and the real-model
study helpers — on a tiny Llama with a word-level tokenizer (the real model is in test_real.py)."""

import re

import pytest
import torch
from _word_models import tiny_llama, word_tokenizer

import scale_lib as sl
from scale_lib.core.stats import wilson
from scale_lib.data.cloze import encode_cloze, level_table, partial_levels
from scale_lib.data.spatial import graded
from scale_lib.data.spatial.generate import grid_layout, map_layout
from scale_lib.norms import gamma, real_gamma
from scale_lib.scaling.adapt import adapt
from scale_lib.scaling.sweep import PromptCache

LEVELS = [f"{f}/{s}" for f in ("map_copy", "map_invert", "map_exists") for s in (2, 4, 6)] + \
         [f"{f}/{s}" for f in ("grid_corner", "grid_cell", "grid_exists") for s in (2, 3, 5)]


@pytest.fixture(scope="module")
def word_tok():
    """A word-level tokenizer over every word the graded prompts use: each option is one token after a space."""
    extra = set(graded.CONTROL_ANIMALS) | set(graded.PLACES) | {"A", "B", "C", "D", "Answer", "with", "the", "option", "'", "s", "letter"}
    return word_tokenizer(graded.graded_items(LEVELS, 30, seed=0), extra)


@pytest.fixture(scope="module")
def tiny_lm(word_tok):
    return tiny_llama(word_tok)


# ------------------------------------------------------------------------------------------- graded items
def _directions(text):
    return {(a, b): d for a, d, b in re.findall(r"(\w+) is to the (\w+) of (\w+)\.", text)}


def _grid(text):
    return [row.split(" | ") for row in text.splitlines()[1:]]


def test_graded_answers_rederived_from_the_text():
    opposite = {"Northeast": "Southwest", "Northwest": "Southeast", "Southeast": "Northwest", "Southwest": "Northeast"}
    for item in graded.graded_items(LEVELS, 25, seed=3):
        family, size = graded.parse_level(item.level)
        assert len(item.options) == 4 and item.answer in item.options
        if family in ("map_copy", "map_invert"):
            a, b = re.match(r"In which direction is (\w+) from (\w+)\?", item.question).groups()
            stated = _directions(item.context)
            assert item.answer == (stated[a, b] if family == "map_copy" else opposite[stated[b, a]])
            assert len(set(re.findall(r"\b(" + "|".join(graded.PLACES) + r")\b", item.context))) == size
        elif family == "map_exists":
            present = [o for o in item.options if re.search(rf"\b{o}\b", item.context)]
            assert present == [item.answer]
        else:
            grid = _grid(item.context)
            assert len(grid) == size and all(len(r) == size for r in grid)
            if family == "grid_cell":
                r, c = map(int, re.search(r"row (\d), column (\d)", item.question).groups())
                assert item.answer == grid[r - 1][c - 1]
            elif family == "grid_corner":
                corner = re.search(r"the ([a-z]+-[a-z]+) corner", item.question).group(1)
                r = 0 if corner.startswith("top") else size - 1
                c = 0 if corner.endswith("left") else size - 1
                assert item.answer == grid[r][c]
            else:
                present = {a for row in grid for a in row}
                assert [o for o in item.options if o in present] == [item.answer]
        assert item.kind == ("nonspatial" if family.endswith("exists") else "spatial")


def test_graded_levels_are_seeded_and_independent():
    a = graded.graded_items(["map_copy/2", "grid_cell/3"], 5, seed=1)
    b = graded.graded_items(["grid_cell/3"], 5, seed=1)
    assert a[5:] == b  # adding a level never changes another level's items
    assert a != graded.graded_items(["map_copy/2", "grid_cell/3"], 5, seed=2)


def test_bad_levels_name_the_valid_choices():
    with pytest.raises(ValueError, match=r"unknown level family 'map_turn'.*map_copy"):
        graded.graded_items(["map_turn/2"], 3)
    with pytest.raises(ValueError, match=r"size must be one of \[2, 3, 4, 5\] for grid_cell"):
        graded.graded_items(["grid_cell/7"], 3)
    with pytest.raises(ValueError, match="at least one item"):
        graded.graded_items(["grid_cell/3"], 0)


def test_layout_size_parameters_keep_spatialeval_draws():
    import random

    assert map_layout(random.Random(5)) == map_layout(random.Random(5), n_places=6, size=6)
    assert grid_layout(random.Random(5)) == grid_layout(random.Random(5), size=5)
    with pytest.raises(ValueError, match="n_places=7"):
        map_layout(random.Random(0), n_places=7, size=6)


# ------------------------------------------------------------------------------------------- cloze
def test_encode_cloze_left_pads_and_trims(word_tok):
    items = graded.graded_items(["map_copy/2", "grid_cell/5"], 3, seed=0)
    batch = encode_cloze(items, word_tok)
    assert batch.attention_mask[:, -1].all()  # left-padded: every answer at the last position
    assert (batch.option_ids == batch.labels[:, None]).any(-1).all()
    short = batch.inputs(slice(0, 3))  # the map prompts are shorter than the grid ones: padding columns dropped
    assert short["input_ids"].shape[1] < batch.input_ids.shape[1] and short["attention_mask"][:, 0].any()
    sub = batch.subset([4, 1])
    assert sub.items == [items[4], items[1]] and torch.equal(sub.labels, batch.labels[[4, 1]])


def test_encode_cloze_refuses_what_it_cannot_score(word_tok):
    item = graded.graded_items(["grid_cell/2"], 1, seed=0)[0]
    import dataclasses

    two_words = dataclasses.replace(item, options=("snow leopard",) + item.options[1:])
    with pytest.raises(ValueError, match="'snow leopard' is 2 tokens"):
        encode_cloze([two_words], word_tok)
    with pytest.raises(ValueError, match="more than max_tokens=5"):
        encode_cloze([item], word_tok, max_tokens=5)
    with pytest.raises(ValueError, match="at least one item"):
        encode_cloze([], word_tok)


def test_wilson_and_the_partial_skill_rule():
    lo, hi = wilson(50, 100)
    assert abs(lo - 0.4038) < 1e-3 and abs(hi - 0.5962) < 1e-3
    assert wilson(10, 10)[1] == 1.0 and wilson(0, 10)[0] == 0.0
    items = graded.graded_items(["map_copy/2", "grid_cell/2", "grid_exists/2"], 40, seed=0)
    right = torch.tensor([1.0] * 20 + [0.0] * 20 + [1.0] * 40 + [1.0] * 40)  # 0.5, 1.0, 1.0
    table = level_table(right, items)
    assert list(table.accuracy) == [0.5, 1.0, 1.0]
    assert partial_levels(table) == ["map_copy/2"]  # perfect levels and controls are never "partial"


# ------------------------------------------------------------------------------------------- methods
@pytest.fixture(scope="module")
def cloze_data(word_tok):
    train = encode_cloze(graded.graded_items(["map_copy/2", "grid_cell/2"], 12, seed=1), word_tok)
    test = encode_cloze(graded.graded_items(["map_copy/2", "grid_exists/2"], 6, seed=2), word_tok)
    return train, test


def test_calibration_learns_the_answer_prior_only(tiny_lm, cloze_data):
    train, _ = cloze_data
    a = adapt(tiny_lm, "calibration", train, steps=60, batch_size=8, lr=0.3, progress=False)
    assert a.n_params == len(torch.unique(train.option_ids))  # one bias per answer word
    assert sum(a.losses[-3:]) < sum(a.losses[:3])
    with torch.no_grad():
        frozen = tiny_lm(**train.inputs(), logits_to_keep=1).logits[:, -1]
        biased = a.module(**train.inputs())
    shift = biased - frozen  # the same shift for every prompt: it cannot depend on the question
    assert torch.allclose(shift, shift[:1].expand_as(shift), atol=1e-5)


def test_last_token_lora_is_lora_at_the_last_position_only(tiny_lm, cloze_data):
    from scale_lib.scaling.baselines import LastTokenLoRA

    train, _ = cloze_data
    lora = LastTokenLoRA(tiny_lm)
    with torch.no_grad():
        for p in lora.lora:
            p.normal_(0, 0.5)  # B starts at zero; give it a value so the adapter does something
    inputs = train.inputs(slice(0, 4))
    with torch.no_grad():
        frozen = tiny_lm(**inputs).logits[:, -1]
        assert torch.allclose(lora.model(**inputs).logits[:, -1], frozen, atol=1e-6)  # off outside applied()
        got = lora(**inputs)
        # reference: LoRA on at every position, but its delta zeroed everywhere except the last column
        hooks = [m.register_forward_hook(lambda mod, args, out: out * torch.nn.functional.one_hot(
            torch.tensor(out.shape[1] - 1), out.shape[1]).to(out.dtype)[None, :, None])
            for name, m in lora.model.named_modules() if name.endswith("lora_B.default")]
        try:
            with lora.applied():
                want = lora.model(**inputs).logits[:, -1]
        finally:
            for h in hooks:
                h.remove()
    assert not torch.allclose(got, frozen, atol=1e-4)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    assert all(p.requires_grad for p in lora.lora) and not any(p.requires_grad for p in tiny_lm.parameters())


def test_prompt_cache_with_an_adapter_equals_the_full_forward(tiny_lm, cloze_data):
    from scale_lib.scaling.adapter import ScAle

    _, test = cloze_data
    adapter = ScAle(tiny_lm)
    with torch.no_grad():
        adapter.head_theta.normal_()
    cache = PromptCache(tiny_lm, test, option_ids=test.option_ids, batch_size=4, progress=False)
    with torch.no_grad(), adapter.applied():
        full = torch.cat([tiny_lm(**test.inputs(slice(i, i + 4))).logits[:, -1] for i in range(0, len(test), 4)])
    torch.testing.assert_close(cache.logits(adapter=adapter), full, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="scales or adapter, not both"):
        cache.logits({"L0.mlp": 0.0}, adapter=adapter)


def test_t_interval_is_the_student_t_interval():
    from scipy import stats

    from scale_lib.core.stats import t_interval

    x = [0.20, 0.25, 0.23]
    mean, lo, hi = t_interval(x)
    ref = stats.t.interval(0.95, len(x) - 1, loc=sum(x) / 3, scale=stats.sem(x))
    assert (lo, hi) == pytest.approx(ref) and mean == pytest.approx(sum(x) / 3)
    one = t_interval([0.3])
    assert one[0] == 0.3 and one[1] != one[1]  # one draw: no interval (nan)
    with pytest.raises(ValueError, match="at least one value"):
        t_interval([])


# ------------------------------------------------------------------------------------------- γ helpers
def test_gamma_helpers_on_a_tiny_llama(tiny_lm):
    ids = torch.randint(2, 50, (3, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for name, p in tiny_lm.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 2.0)
    table = real_gamma.gamma_table(tiny_lm)
    assert len(table) == 2 * 2 + 1 and list(table.role).count("output") == 1  # tied embeddings: the final norm is an Output-Norm
    before = {n: p.clone() for n, p in tiny_lm.named_parameters()}
    with pytest.raises(RuntimeError, match="boom"), gamma.gamma_reset(tiny_lm, ["model.norm"]):
        assert torch.equal(tiny_lm.model.norm.weight, torch.ones_like(tiny_lm.model.norm.weight))
        raise RuntimeError("boom")
    assert all(torch.equal(p, before[n]) for n, p in tiny_lm.named_parameters())  # restored even though the body raised
    with pytest.raises(ValueError, match="unknown norms \\['model.layers.9.input_layernorm'\\]"):
        gamma.gamma_reset(tiny_lm, ["model.layers.9.input_layernorm"])
    ablation = real_gamma.gamma_ablation(tiny_lm, ids, progress=False)
    assert list(ablation.setting[:4]) == ["none", "all", "all Input-Norms", "final norm (Output-Norm)"]
    assert list(ablation.layer[4:6]) == [0, 1] and (ablation.increase.iloc[1:] != 0).all()
    assert ablation.setting.iloc[-1] == "all → their means" and ablation.target.iloc[-1] == "mean"
    with gamma.gamma_reset(tiny_lm, ["model.norm"], to="mean"):
        assert torch.allclose(tiny_lm.model.norm.weight, before["model.norm.weight"].mean().expand(32))
    with pytest.raises(ValueError, match="unknown reset target 'zero'"):
        gamma.gamma_reset(tiny_lm, ["model.norm"], to="zero")
    fold = real_gamma.fold_difference(tiny_lm, ids)
    assert fold["max_abs_logit_diff"] < 1e-4 * max(1.0, fold["logit_scale"])
    assert all(torch.equal(p, before[n]) for n, p in tiny_lm.named_parameters())


def test_use_cores_respects_a_limit():
    n = sl.use_cores(limit=1)
    assert n == 1 and torch.get_num_threads() == 1
    assert sl.use_cores() >= 1


# ------------------------------------------------------------------------------------------- exercises
def test_exercise_checks_pass_the_key_and_catch_wrong_answers(tiny_lm):
    from scale_lib.book import exercises as ex
    from scale_lib.book import solutions

    ex.test_cloze_choice(solutions.cloze_choice)
    with pytest.raises(AssertionError, match="padding slot"):
        ex.test_cloze_choice(lambda logits, ids: logits[torch.arange(len(ids))[:, None], ids].argmax(-1))  # reads -1 as the last token
    with pytest.raises(AssertionError, match="raised RuntimeError"):
        ex.test_cloze_choice(lambda logits, ids: logits.gather(-1, ids).argmax(-1))  # gather refuses -1
    with pytest.raises(AssertionError, match="not written yet"):
        ex.test_cloze_choice(lambda logits, ids: (_ for _ in ()).throw(NotImplementedError("your code here")))
    ids = torch.randint(2, 50, (1, 12), generator=torch.Generator().manual_seed(0))
    ex.test_fold_one_layer(solutions.fold_one_layer, tiny_lm, ids, layer=1)

    def into_o_proj(model, layer):  # the wrong maps: o_proj reads the attention output, not the norm
        block = model.model.layers[layer]
        with torch.no_grad():
            block.self_attn.o_proj.weight.mul_(block.input_layernorm.weight[None, :])
            block.input_layernorm.weight.fill_(1.0)

    with pytest.raises(AssertionError, match="q_proj is unchanged"):
        ex.test_fold_one_layer(into_o_proj, tiny_lm, ids, layer=1)


def test_student_edition_strips_every_solution(tmp_path):
    from scale_lib.book.student import MARKER, build_student, strip_solutions

    src = "def f(x):\n    return solutions.f(x)  # SOLUTION\n\n\nex.test_f(f)\n"
    out, n = strip_solutions(src)
    assert n == 1 and "solutions.f" not in out and '    raise NotImplementedError("exercise' in out
    written = build_student(target=tmp_path)
    assert written and all(MARKER not in p.read_text() for p in written)
    nb = (tmp_path / "06_real_model.ipynb").read_text()
    assert "solutions.cloze_choice" not in nb and "NotImplementedError" in nb


def test_steps_ratio_interpolates_between_checkpoints():
    import pandas as pd

    from scale_lib.norms.paired import steps_ratio

    rows = []
    for seed in (0, 1):
        for step, ref, fast in ((50, 3.0, 2.6), (100, 2.5, 2.0), (150, 2.2, 1.9), (200, 2.0, 1.8)):
            rows += [dict(seed=seed, step=step, arm="base", val_loss=ref), dict(seed=seed, step=step, arm="fast", val_loss=fast + 0.1 * seed)]
    runs = pd.DataFrame(rows)
    out = steps_ratio(runs, "fast", "base")
    # seed 0 reaches 2.0 between step 50 (2.6) and 100 (2.0): at 100 -> 2.0; seed 1 (2.1 at 100, 2.0 at 150) -> 200 / 150
    assert out["by_seed"] == {0: pytest.approx(2.0), 1: pytest.approx(4 / 3)}
    assert out["ratio"] == pytest.approx(5 / 3) and out["low"] < 5 / 3 < out["high"] and out["lower_bound"] == 0
    half = runs.assign(val_loss=runs.val_loss.where(~((runs.arm == "fast") & (runs.step == 100) & (runs.seed == 0)), 2.3))
    assert steps_ratio(half, "fast", "base")["by_seed"][0] == pytest.approx(200 / 137.5)  # 2.3 at 100, 1.9 at 150: crosses 2.0 at 137.5
    assert steps_ratio(runs, "base", "base")["ratio"] == pytest.approx(1.0)
    slow = runs.assign(val_loss=runs.val_loss + (runs.arm == "fast") * 5)
    assert steps_ratio(slow, "fast", "base")["by_seed"][0] != steps_ratio(slow, "fast", "base")["by_seed"][0]  # never reached: nan
    with pytest.raises(ValueError, match="unknown arm 'dnp'"):
        steps_ratio(runs, "dnp", "base")
