"""The model map: every supported architecture, unknown ones, hand-written layouts."""

import pytest
import torch
from torch import nn

import scale_lib as sl


@pytest.mark.parametrize("arch", sl.ARCHITECTURES)
def test_every_architecture_maps(arch, tiny_models):
    model = tiny_models(arch)
    mm = sl.model_map(model)
    assert mm.n_layers == 2 and mm.n_heads == 4
    assert mm.head_dim == (24 if arch in ("qwen3", "gemma3_text") else 16)
    parallel = ("cohere", "phi", "falcon", "gptj")  # attention and MLP read one shared norm (parallel blocks)
    assert len(mm.norms(0)) >= (1 if arch in parallel else 2)
    assert "attention output projection" in mm.describe()
    # the map holds no registered reference to the backbone
    assert not isinstance(mm, nn.Module)


def test_unknown_architecture_lists_what_was_found_and_how_to_fix():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn_proj = nn.Linear(8, 8)
            self.ff = nn.Linear(8, 8)

    class Weird(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([Block(), Block()])

    with pytest.raises(ValueError) as err:
        sl.model_map(Weird())
    msg = str(err.value)
    assert "unknown architecture 'Weird'" in msg and "blocks (2 x Block)" in msg and "Layout(" in msg

    class Cfg:
        model_type = "weird"
        num_attention_heads = 2

    m = Weird()
    m.config = Cfg()
    layout = sl.Layout(layers="blocks", attn_out="attn_proj", mlp="ff")
    mm = sl.model_map(m, layout=layout)
    assert mm.n_layers == 2 and mm.head_dim == 4
    x = torch.randn(1, 3, 8)
    with sl.scaled(m, {"L1.H0": 0.0}, positions="all", layout=layout):
        y = mm.attn_out(1)(x)
    assert torch.equal(y, mm.attn_out(1)(torch.cat([torch.zeros(1, 3, 4), x[..., 4:]], -1)))


def test_bad_layout_names_raise_with_the_modules_found(tiny_models):
    model = tiny_models("llama")
    with pytest.raises(ValueError, match=r"layout.attn_out='self_attn.out'.*o_proj"):
        sl.model_map(model, layout=sl.Layout(layers="layers", attn_out="self_attn.out", mlp="mlp"))
    with pytest.raises(ValueError, match=r"matched nothing.*model.layers"):
        sl.model_map(model, layout=sl.Layout(layers="blocks", attn_out="self_attn.o_proj", mlp="mlp"))
    with pytest.raises(ValueError, match="unknown tower 'audio'"):
        sl.model_map(model, tower="audio")
    with pytest.raises(ValueError, match="unknown architecture 'llama' for the vision tower"):
        sl.model_map(model, tower="vision")


def test_peft_wrapped_model_maps_to_the_same_modules():
    peft = pytest.importorskip("peft")
    model = sl.tiny_model("llama")
    wrapped = peft.get_peft_model(model, peft.LoraConfig(r=1, target_modules=["q_proj", "v_proj"]))
    assert sl.model_map(wrapped).attn_out(0) is sl.model_map(model).attn_out(0)


def test_tiny_model_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"unknown architecture 'lama'.*'llama'"):
        sl.tiny_model("lama")
    with pytest.raises(ValueError, match="images=True needs a VLM"):
        sl.tiny_batch(sl.tiny_model("llama"), images=True)
    with pytest.raises(ValueError, match="unknown padding"):
        sl.tiny_batch(sl.tiny_model("llama"), padding="middle")


def test_trainable_parameters_and_freeze():
    model = sl.tiny_model("gpt2")
    n = sl.trainable_parameters(model)
    assert n == sum(p.numel() for p in model.parameters())
    sl.freeze(model)
    assert sl.trainable_parameters(model) == 0
