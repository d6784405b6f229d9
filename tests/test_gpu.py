"""GPU hygiene: coefficients on the model's device, dtypes a GPU computes natively. The CUDA test runs
where a GPU exists and skips elsewhere (the book's CI has none)."""

import pytest
import torch

import scale_lib as sl
from scale_lib.models.hub_vlm import default_dtype
from scale_lib.scaling.adapter import ScAle, train_scale


def test_default_dtype_is_fp32_on_the_cpu():
    assert default_dtype("cpu") == torch.float32


def test_coefficients_live_where_the_model_does_and_read_back_on_the_cpu():
    from scale_lib.scaling.adapt import coefficient_frame

    model = sl.tiny_model("llama").to(torch.float64)
    adapter = ScAle(model)
    assert adapter.head_theta.device == next(model.parameters()).device
    assert coefficient_frame(adapter).shape == (adapter.map.n_layers, adapter.map.n_heads + 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_scale_trains_on_cuda_in_the_native_dtype():
    dtype = default_dtype("cuda")
    model = sl.tiny_model("llama").to("cuda", dtype)
    adapter = ScAle(model)
    assert adapter.head_theta.device.type == "cuda"
    b = {k: v.to("cuda") for k, v in sl.tiny_batch(model, batch=8, padding="left").items()}
    labels = torch.randint(5, 50, (8,), device="cuda")
    losses = train_scale(adapter, b, labels, steps=3, lr=0.1, batch_size=4, progress=False)
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_peft_generation_and_merge_on_cuda_in_the_native_dtype():
    import peft

    from scale_lib.scaling.adapter import ScAleConfig
    from scale_lib.scaling.peft_method import ScAleLayer

    dtype = default_dtype("cuda")
    model = sl.tiny_model("qwen2_vl").to("cuda", dtype)
    b = {k: v.to("cuda") for k, v in sl.tiny_batch(model, batch=4, padding="left", images=True).items()}
    pm = peft.get_peft_model(model, sl.ScAlePeftConfig())
    assert all(m.scale_theta["default"].device.type == "cuda" for m in pm.modules() if isinstance(m, ScAleLayer))
    losses = train_scale(pm, b, torch.randint(5, 50, (4,), device="cuda"), steps=2, batch_size=2, progress=False)
    assert all(torch.isfinite(torch.tensor(losses)))
    text = sl.tiny_model("llama").to("cuda", dtype)
    adapter = ScAle(text, ScAleConfig(positions="all"))
    tb = {k: v.to("cuda") for k, v in sl.tiny_batch(text, padding="left").items()}
    out = adapter.generate(tb, max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert out.device.type == "cuda"
    adapter.merge()
