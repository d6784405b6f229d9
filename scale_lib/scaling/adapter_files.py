"""Saving, loading and sharing a ScAle adapter, in peft's format (``peft_type="SCALE"``).

``adapter_config.json`` holds the sites, the bound, the base model and its shape; ``adapter_model.safetensors``
holds θ under peft's key names (``base_model.model.<module>.scale_theta``); ``README.md`` is a model card
with the coefficients themselves. :mod:`scale_lib.scaling.peft_method` reads and writes the same files.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from scale_lib.core.arch import Layout, model_map, unwrap

__all__ = ["save_adapter", "load_adapter", "push_adapter", "model_card"]


def save_adapter(adapter, directory: str | Path, *, base_model: str | None = None) -> Path:
    """Save in peft's format (``peft_type="SCALE"``): ``adapter_config.json``, ``adapter_model.safetensors``
    and a ``README.md`` model card that records the base model, the bound and the coefficients. Loads
    with :meth:`load`, or with ``peft.PeftModel.from_pretrained`` once :mod:`scale_lib.scaling.peft_method`
    is imported. ``base_model``: the hub id to record (default: the model's ``name_or_path``). No pickle."""
    from safetensors.torch import save_file

    import scale_lib

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    heads, mlps = adapter._site_names()
    base = base_model or getattr(getattr(unwrap(adapter.model), "config", None), "name_or_path", None) or None
    cfg = {"peft_type": "SCALE", "task_type": None, "base_model_name_or_path": base, "revision": None, "inference_mode": True,
           "layers": adapter.layers, "heads": adapter.config.heads, "mlp": adapter.config.mlp, "bound": list(adapter.config.bound),
           "positions": adapter.config.positions, "layout": None if adapter.layout is None else adapter.layout.to_dict(),
           "target_modules": heads + mlps, "head_modules": heads, "n_heads": adapter.map.n_heads, "model_signature": adapter._signature(),
           "library_version": f"scale_lib {scale_lib.__version__}"}
    (directory / "adapter_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    tensors = {}
    for i, name in enumerate(heads):
        tensors[f"base_model.model.{name}.scale_theta"] = adapter.head_theta[i].detach().cpu().contiguous()
    for i, name in enumerate(mlps):
        tensors[f"base_model.model.{name}.scale_theta"] = adapter.mlp_theta[i : i + 1].detach().cpu().contiguous()
    save_file(tensors, directory / "adapter_model.safetensors")
    (directory / "README.md").write_text(model_card(adapter, base))
    return directory


def push_adapter(adapter, repo_id: str, *, private: bool = True, base_model: str | None = None, **upload_kwargs):
    """Save to a temporary folder and upload it with ``huggingface_hub`` (needs a token and a network)."""
    import tempfile

    from huggingface_hub import HfApi

    with tempfile.TemporaryDirectory() as tmp:
        save_adapter(adapter, tmp, base_model=base_model)
        api = HfApi()
        api.create_repo(repo_id, private=private, exist_ok=True)
        return api.upload_folder(repo_id=repo_id, folder_path=tmp, **upload_kwargs)

def load_adapter(cls, directory: str | Path, model: nn.Module, *, layout: Layout | None = None):
    """Load a saved adapter onto ``model``; a model of another architecture or shape is refused.
    Reads the peft format :meth:`save` writes (and ``peft.PeftModel.save_pretrained`` of a ScAle peft
    model), and scale_lib 0.1's format. ``layout``: overrides the layout saved with the adapter (if any)."""
    from safetensors.torch import load_file

    from scale_lib.scaling.adapter import ScAleConfig

    directory = Path(directory)
    path = directory / "adapter_config.json"
    if not path.exists():
        raise FileNotFoundError(f"no adapter_config.json in {directory}")
    cfg = json.loads(path.read_text())
    peft_format = "peft_type" in cfg
    if peft_format and cfg["peft_type"] != "SCALE":
        raise ValueError(f"{directory} holds a peft {cfg['peft_type']} adapter, not a ScAle one (peft_type 'SCALE')")
    saved = cfg.get("model_signature") if peft_format else cfg.get("model")
    saved_layout = cfg.get("layout")
    if layout is None and saved_layout is not None:
        layout = Layout.from_dict(saved_layout)
    mm = model_map(model, layout=layout)
    here = {"model_type": mm.model_type, "n_layers": mm.n_layers, "n_heads": mm.n_heads}
    if saved != here:
        diff = {k: (saved[k], here.get(k)) for k in saved if saved[k] != here.get(k)}
        raise ValueError(f"adapter in {directory} was saved for {saved}; this model is {here} (saved vs this: {diff})")
    config = ScAleConfig(layers=cfg["layers"], heads=cfg["heads"], mlp=cfg["mlp"], bound=tuple(cfg["bound"]), positions=cfg.get("positions", "last"))
    adapter = cls(model, config, layout=layout)
    tensors = load_file(directory / "adapter_model.safetensors")
    if not peft_format:
        adapter.load_state_dict(tensors)
        return adapter
    heads, mlps = adapter._site_names()
    want = [f"base_model.model.{n}.scale_theta" for n in heads + mlps]
    missing = [k for k in want if k not in tensors]
    if missing:
        raise ValueError(f"adapter in {directory} lacks {missing[:3]} (has {sorted(tensors)[:3]}...): saved for other module names")
    with torch.no_grad():
        for i, name in enumerate(heads):
            adapter.head_theta[i].copy_(tensors[f"base_model.model.{name}.scale_theta"])
        for i, name in enumerate(mlps):
            adapter.mlp_theta[i : i + 1].copy_(tensors[f"base_model.model.{name}.scale_theta"])
    return adapter


def model_card(adapter, base_model: str | None) -> str:
    """A hub model card (README.md) recording the base model, the sites, the bound and the coefficients."""
    import scale_lib

    coef = adapter.coefficients()
    lines = ["---", f"base_model: {base_model or ''}", "library_name: peft", "tags:", "- scale_lib", "- scale", "- peft", "---", "",
             f"# ScAle adapter for {base_model or adapter.map.model_type}", "",
             f"{adapter.num_parameters():,} bounded coefficients s = lo + (hi - lo) * sigmoid(theta), bound {tuple(adapter.config.bound)}, "
             f"acting at {'the last real token of each row' if adapter.config.positions == 'last' else 'every position'} on the "
             f"{'attention heads (input of the output projection)' if adapter.config.heads else ''}"
             f"{' and ' if adapter.config.heads and adapter.config.mlp else ''}{'MLP outputs' if adapter.config.mlp else ''} "
             f"of layers {adapter.layers} of a {adapter.map.model_type} model ({adapter.map.n_layers} layers, {adapter.map.n_heads} heads).", "",
             f"Made with scale_lib {scale_lib.__version__}. Load with `scale_lib.ScAle.load(dir, model)` or, after "
             "`import scale_lib.scaling.peft_method`, `peft.PeftModel.from_pretrained(model, dir)`.", "",
             "## Coefficients", "", "| layer | " + " | ".join([f"head {h}" for h in range(adapter.map.n_heads)] * ("heads" in coef)) +
             (" | mlp" if "mlp" in coef else "") + " |",
             "|---" * (1 + adapter.map.n_heads * ("heads" in coef) + ("mlp" in coef)) + "|"]
    for i, layer in enumerate(adapter.layers):
        cells = [f"{float(v):.4f}" for v in coef["heads"][i]] if "heads" in coef else []
        cells += [f"{float(coef['mlp'][i]):.4f}"] if "mlp" in coef else []
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
