"""The scaling hooks, on a tiny random instance of every supported architecture."""

import pytest
import torch
from conftest import output_of

import scale_lib as sl

ALL = tuple(a for a in sl.ARCHITECTURES if a != "mllama")  # Mllama skips its cross-attention layer on text: tests/test_families.py
VLMS = sl.VLM_ARCHITECTURES


def batch_for(model, arch, **kw):
    return sl.tiny_batch(model, images=arch in VLMS, **kw)


class Capture:
    """Records the input and output of a module on each forward (after other pre-hooks ran)."""

    def __init__(self, module):
        self.inputs, self.outputs = [], []
        self.handle = module.register_forward_hook(self._record)

    def _record(self, module, args, output):  # returns None: a hook that returns a value replaces the output
        self.inputs.append(args[0].detach().clone())
        self.outputs.append((output[0] if isinstance(output, tuple) else output).detach().clone())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.remove()


@pytest.mark.parametrize("arch", ALL)
def test_scale_one_is_exactly_identity(arch, tiny_models):
    model = tiny_models(arch)
    b = batch_for(model, arch)
    mm = sl.model_map(model)
    with torch.no_grad():
        ref = output_of(model, b)
        ones = {f"L{l}.{k}": 1.0 for l in range(mm.n_layers) for k in ("heads", "attn", "mlp")}
        ones.update({f"L0.H{h}": 1.0 for h in range(mm.n_heads)})
        with sl.scaled(model, ones):
            out = output_of(model, b)
    assert torch.equal(ref, out)


@pytest.mark.parametrize("arch", ALL)
@pytest.mark.parametrize("padding", ["left", "right"])
def test_head_scale_matches_manual_computation(arch, padding, tiny_models):
    model = tiny_models(arch)
    mm = sl.model_map(model)
    b = batch_for(model, arch, padding=padding)
    layer, head, s = mm.n_layers - 1, 1, 0.37
    proj = mm.attn_out(layer)
    with torch.no_grad():
        with Capture(proj) as plain:
            output_of(model, b)
        with sl.scaled(model, {f"L{layer}.H{head}": s}), Capture(proj) as hooked:
            output_of(model, b)
        x = plain.inputs[0]
        last = sl.last_token_index(b["attention_mask"])
        manual = x.clone().view(*x.shape[:2], mm.n_heads, mm.head_dim)
        manual[torch.arange(x.shape[0]), last, head] *= s
        manual = manual.view_as(x)
        expected_out = proj(manual)  # no hooks active here
    assert torch.equal(hooked.inputs[0], manual)
    torch.testing.assert_close(hooked.outputs[0], expected_out, rtol=0, atol=1e-6)
    changed = (hooked.inputs[0] != x).any(-1)  # (B, T): which positions were touched
    expect = torch.zeros_like(changed)
    expect[torch.arange(x.shape[0]), last] = True
    assert torch.equal(changed, expect), "only the last real token of each row may change"


@pytest.mark.parametrize("arch", ALL)
def test_zero_heads_removes_attention_output(arch, tiny_models):
    model = tiny_models(arch)
    mm = sl.model_map(model)
    b = batch_for(model, arch)
    proj = mm.attn_out(0)
    bias = getattr(proj, "bias", None)
    with torch.no_grad():
        with sl.scaled(model, {"L0.heads": 0.0}, positions="all"), Capture(proj) as heads0:
            out_heads = output_of(model, b)
        with sl.scaled(model, {"L0.attn": 0.0}, positions="all"):
            out_attn = output_of(model, b)
    if bias is None:
        assert torch.equal(out_heads, out_attn)
    else:  # with a bias, zero heads leave exactly the bias in the attention output
        torch.testing.assert_close(heads0.outputs[0], bias.expand_as(heads0.outputs[0]), rtol=0, atol=0)


@pytest.mark.parametrize("arch", ALL)
def test_unchosen_positions_untouched_in_causal_models(arch, tiny_models):
    model = tiny_models(arch)
    b = batch_for(model, arch, padding="none")
    with torch.no_grad():
        ref = output_of(model, b)
        with sl.scaled(model, {"L0.heads": 3.0, "L0.mlp": 0.0, "L1.attn": 2.0}):
            out = output_of(model, b)
    assert not torch.equal(ref[:, -1], out[:, -1])
    if sl.model_map(model).causal and arch in ("mixtral", "qwen2_moe", "qwen3_moe"):
        # MoE: the last token's new routing regroups the expert matmuls; earlier rows change by float rounding only
        torch.testing.assert_close(ref[:, :-1], out[:, :-1], atol=1e-5, rtol=1e-5)
    elif sl.model_map(model).causal:
        assert torch.equal(ref[:, :-1], out[:, :-1])
    else:  # BERT and PaliGemma's prefix attend both ways: the map must say so (prefix caching is off)
        assert not torch.equal(ref[:, :-1], out[:, :-1])


def test_positions_all_list_and_per_row(tiny_models):
    model = tiny_models("llama")
    b = sl.tiny_batch(model, padding="none", seq=8)
    proj = sl.model_map(model).attn_out(0)

    def touched(positions):
        with torch.no_grad(), sl.scaled(model, {"L0.H0": 2.0}, positions=positions), Capture(proj) as c:
            model(**b)
        with torch.no_grad(), Capture(proj) as p:
            model(**b)
        return (c.inputs[0] != p.inputs[0]).any(-1)

    assert touched("all").all()
    t = touched([0, -2])
    assert t[:, 0].all() and t[:, 6].all() and t.sum() == 2 * t.shape[0]
    t = touched(torch.tensor([1, 2, 3]))
    assert t.sum() == 3 and t[0, 1] and t[1, 2] and t[2, 3]


def test_cached_last_token_step_equals_full_forward(tiny_models):
    """The basis of prefix caching: a KV-cached last-token step under the hooks equals the full pass."""
    model = tiny_models("llama")
    b = sl.tiny_batch(model, padding="left")
    ids, mask = b["input_ids"], b["attention_mask"]
    scales = {"L0.heads": torch.linspace(0.2, 1.8, 4), "L1.mlp": 1.7}
    with torch.no_grad():
        with sl.scaled(model, scales):
            full = model(**b).logits[:, -1]
        prefix = model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], use_cache=True)
        with sl.scaled(model, scales):
            step = model(input_ids=ids[:, -1:], attention_mask=mask, past_key_values=prefix.past_key_values).logits[:, -1]
    torch.testing.assert_close(step, full, rtol=0, atol=1e-5)


@pytest.mark.parametrize("arch", ["llama", "qwen3", "gpt2", "llava"])
def test_gradients_reach_tensor_scales_and_no_backbone_parameter(arch):
    model = sl.freeze(sl.tiny_model(arch))
    b = batch_for(model, arch)
    theta = torch.zeros(4, requires_grad=True)
    mlp = torch.tensor(1.0, requires_grad=True)
    with sl.scaled(model, {"L1.heads": 2 * torch.sigmoid(theta), "L0.mlp": mlp}):
        loss = output_of(model, b)[:, -1].logsumexp(-1).sum()
    loss.backward()  # after the context exited: the graph is still valid
    assert theta.grad is not None and theta.grad.abs().sum() > 0
    assert mlp.grad is not None and mlp.grad.abs() > 0
    assert all(p.grad is None for p in model.parameters())
    assert sl.trainable_parameters(model) == 0


def test_backward_inside_context_and_in_place_updates_are_seen(tiny_models):
    model = sl.freeze(tiny_models("llama"))
    b = sl.tiny_batch(model)
    theta = torch.zeros(4, requires_grad=True)
    opt = torch.optim.SGD([theta], lr=1.0)
    # the scale is computed from theta once; in-place updates of a tensor scale are seen by later forwards
    scale = torch.ones(4, requires_grad=False)
    losses = []
    with sl.scaled(model, {"L1.heads": scale}):
        for _ in range(2):
            loss = model(**b).logits[:, -1].logsumexp(-1).sum()
            losses.append(loss.item())
            scale.mul_(0.5)
    assert losses[0] != losses[1]
    with sl.scaled(model, {"L1.heads": 2 * torch.sigmoid(theta)}):
        model(**b).logits[:, -1].sum().backward()
    opt.step()
    assert theta.abs().sum() > 0


@pytest.mark.parametrize("arch", ["llama", "llava", "qwen2_vl"])
def test_no_hook_remains_after_exception_or_nesting(arch, tiny_models):
    model = tiny_models(arch)
    before = sl.count_hooks(model)
    b = batch_for(model, arch)
    with pytest.raises(RuntimeError, match="boom"):
        with sl.scaled(model, {"L0.H1": 0.5, "L1.mlp": 2.0}):
            output_of(model, b)
            raise RuntimeError("boom")
    assert sl.count_hooks(model) == before
    outer = sl.scaled(model, {"L0.attn": 0.5})
    inner = sl.scaled(model, {"L1.H0": 0.0})
    with outer:
        n_outer = sl.count_hooks(model)
        with inner:
            assert sl.count_hooks(model) > n_outer
        assert sl.count_hooks(model) == n_outer
    assert sl.count_hooks(model) == before
    # exit in the "wrong" order removes exactly each one's own handles
    outer.attach(), inner.attach()
    outer.detach()
    assert sl.count_hooks(model) == before + len(inner._handles)
    inner.detach()
    assert sl.count_hooks(model) == before


def test_nested_scales_multiply(tiny_models):
    model = tiny_models("llama")
    b = sl.tiny_batch(model)
    with torch.no_grad():
        with sl.scaled(model, {"L0.H2": 0.5}), sl.scaled(model, {"L0.H2": 0.6}):
            nested = model(**b).logits
        with sl.scaled(model, {"L0.H2": 0.5 * 0.6}):
            once = model(**b).logits
    torch.testing.assert_close(nested, once, rtol=0, atol=1e-6)


@pytest.mark.parametrize("arch", ["llava", "idefics3", "qwen2_vl"])
def test_vision_tower_untouched_unless_asked(arch, tiny_models):
    model = tiny_models(arch)
    vmap = sl.model_map(model, tower="vision")
    vision_hooks = lambda: sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for layer in vmap.layers for m in layer.modules())  # noqa: E731
    before = vision_hooks()
    with sl.scaled(model, {f"L{l}.{k}": 0.5 for l in range(2) for k in ("heads", "attn", "mlp")}):
        assert vision_hooks() == before
    b = batch_for(model, arch)
    with torch.no_grad():
        ref = output_of(model, b)
        with sl.scaled(model, {"L0.heads": 0.0}, tower="vision", positions="all"):
            assert vision_hooks() > before
            out = output_of(model, b)
    assert not torch.allclose(ref, out), "scaling the vision tower when asked must change the output"


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "scales, positions, match",
    [
        ({"L2.H0": 1.0}, "last", r"layer 2 is out of range.*valid layers are 0\.\.1"),
        ({"L-1.H0": 1.0}, "last", r"unknown site 'L-1.H0'.*'L3.H5'"),
        ({"L0.H4": 1.0}, "last", r"head 4 of layer 0 is out of range.*valid heads are 0\.\.3"),
        ({"L0.heads": torch.ones(3)}, "last", r"shape \(3,\).*\(\) or \(4,\)"),
        ({"L0.mlp": torch.ones(4)}, "last", r"shape \(4,\).*single number"),
        ({"L0.ffn": 1.0}, "last", r"unknown site 'L0.ffn'"),
        ({"L0.attn": float("nan")}, "last", r"finite"),
        ({"L0.heads": torch.tensor([1.0, float("nan"), 1.0, 1.0])}, "last", r"NaN or inf"),
        ({"L0.attn": 1.0}, "middle", r"unknown positions 'middle'"),
        ({"L0.attn": "2"}, "last", r"must be a number, a tensor or a callable"),
        ({"L0.heads": lambda: torch.ones(3)}, "last", r"shape \(3,\).*\(\) or \(4,\)"),
        ({"L0.attn": True}, "last", r"bool"),
    ],
)
def test_bad_inputs_raise_clear_errors_and_leave_no_hook(scales, positions, match, tiny_models):
    model = tiny_models("llama")
    before = sl.count_hooks(model)
    with pytest.raises((ValueError, TypeError), match=match):
        with sl.scaled(model, scales, positions=positions):
            pass
    assert sl.count_hooks(model) == before


def test_out_of_range_positions_raise_at_forward_and_leave_no_hook(tiny_models):
    model = tiny_models("llama")
    before = sl.count_hooks(model)
    b = sl.tiny_batch(model, seq=6)
    with pytest.raises(ValueError, match=r"positions \[9\] are out of range.*-6\.\.5"):
        with sl.scaled(model, {"L0.H0": 0.5}, positions=[9]):
            model(**b)
    assert sl.count_hooks(model) == before


def test_site_parsing_round_trip():
    for s in ["L0.H3", "L12.heads", "L1.attn", "L7.mlp"]:
        assert str(sl.parse_site(s)) == s
    assert sl.parse_site("L3.H5") == sl.Site(3, "head", 5)
    with pytest.raises(ValueError, match="unknown site kind 'ffn'"):
        sl.Site(0, "ffn")
    with pytest.raises(TypeError, match="a site is a str"):
        sl.parse_site(3)


def test_last_token_index():
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0]])
    assert sl.last_token_index(mask).tolist() == [3, 2, -1, 2]
    with pytest.raises(ValueError, match="2-D"):
        sl.last_token_index(torch.ones(4))
