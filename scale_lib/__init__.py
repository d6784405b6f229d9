"""scale_lib — tiny multiplicative scale parameters inside transformers, the library under the book.

The face, by role (names after the papers' concepts):

* **sites and hooks** — :func:`scaled` / :class:`Scaling` multiply attention heads, attention
  outputs or MLP outputs at the last token (or any positions); :func:`model_map` / :class:`Layout`
  say where those sites live in each supported architecture;
* **ScAle** — :class:`ScAle`, :class:`ScAleConfig`, :func:`train_scale`; rescaling sweeps:
  :class:`PromptCache`, :func:`rescaling_sweep`;
* **scale vectors** — :class:`NormVariant`, :func:`apply_variant`, :func:`pretrain`;
* **tiny models** — :func:`tiny_model` / :func:`tiny_batch`, offline instances of real architectures;
* **the book** — :func:`is_fast`, :func:`pick`, :func:`save_metrics`, and (served lazily, so that
  ``import scale_lib`` never loads matplotlib, seaborn or ipywidgets) :func:`save_figure`,
  :func:`explorer`, :func:`use_style`, :func:`gap_bars`, :data:`PALETTE`.

Everything outside the core (arch, hooks, tiny, book) is imported on first use.
"""

import importlib

from .arch import LAYOUTS, VISION_LAYOUTS, Layout, ModelMap, count_hooks, freeze, model_map, register_layout, trainable_parameters
from .book import is_fast, output_dir, pick, repo_root, save_metrics, seed_everything, use_cores
from .hooks import Scaling, Site, last_token_index, parse_site, scaled
from .tiny import ARCHITECTURES, VLM_ARCHITECTURES, tiny_batch, tiny_model

__version__ = "0.1.0"

#: Names served on first use: ``name -> module`` (keeps the import light: no plotting, no pandas).
_LAZY = {
    "ScAle": "scale", "ScAleConfig": "scale", "train_scale": "scale",
    "PromptCache": "sweep", "rescaling_sweep": "sweep",
    "NormVariant": "norm_scale", "apply_variant": "norm_scale", "pretrain": "lm",
    "PALETTE": "plotting", "explorer": "plotting", "gap_bars": "plotting", "save_figure": "plotting", "use_style": "plotting",
}

__all__ = [
    "LAYOUTS", "VISION_LAYOUTS", "Layout", "ModelMap", "count_hooks", "freeze", "model_map", "register_layout", "trainable_parameters",
    "is_fast", "output_dir", "pick", "repo_root", "save_metrics", "seed_everything", "use_cores",
    "Scaling", "Site", "last_token_index", "parse_site", "scaled",
    "ARCHITECTURES", "VLM_ARCHITECTURES", "tiny_batch", "tiny_model",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scale_lib' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
