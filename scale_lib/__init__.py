"""scale_lib — tiny multiplicative scale parameters inside transformers, the library under the book.

The package is built in layers (``scale_lib/<part>/``); the two halves stand on one core and never
import each other, and the science never imports the book:

* ``core/`` — sites and hooks, the model map, tiny models, the prefix cache, scoring, statistics, schedules, the training loop;
* ``data/`` — the spatial benchmark, cloze prompts, a character corpus;
* ``models/`` — the tiny VLM testbed, SmolLM2-135M, all-MiniLM-L6-v2, hub VLMs;
* ``scaling/`` — half (a), ScAle at the last token, its baselines, sweeps and studies;
* ``norms/`` — half (b), the scale vectors γ of RMSNorm/LayerNorm;
* ``book/`` — the book's machinery: fast mode, figures, explorers, exercises, the site.

The face, by role (names after the papers' concepts):

* **sites and hooks** — :func:`scaled` / :class:`Scaling`, :func:`model_map` / :class:`Layout`;
* **ScAle** — :class:`ScAle`, :class:`ScAleConfig`, :func:`train_scale`, :func:`prefix_cache`;
  rescaling sweeps: :class:`PromptCache`, :func:`rescaling_sweep`; the comparison: :func:`adapt`, :func:`compare`;
* **scale vectors** — :class:`NormVariant`, :func:`apply_variant`, :func:`fold_gamma`, :func:`param_groups`,
  :class:`PretrainConfig`, :func:`pretrain`;
* **tiny models** — :func:`tiny_model` / :func:`tiny_batch`, offline instances of real architectures;
* **the book** — :func:`is_fast`, :func:`pick`, :func:`save_metrics`, :func:`save_figure`, :func:`explorer`, …

Only the core is imported with the package; every other name is served on first use, so
``import scale_lib`` loads neither matplotlib, seaborn, ipywidgets, IPython, pandas nor peft.
"""

import importlib

from scale_lib import _compat
from scale_lib.core.arch import LAYOUTS, VISION_LAYOUTS, Layout, ModelMap, count_hooks, freeze, model_map, register_layout, trainable_parameters
from scale_lib.core.hooks import Scaling, Site, last_token_index, parse_site, scaled
from scale_lib.core.tiny import ARCHITECTURES, VLM_ARCHITECTURES, tiny_batch, tiny_model

__version__ = "0.1.0"

#: Names served on first use, by role: ``name -> module`` (keeps the import light).
_LAZY = {
    # ScAle, half (a)
    "ScAle": "scaling.adapter", "ScAleConfig": "scaling.adapter", "train_scale": "scaling.adapter",
    "ScAlePeftConfig": "scaling.peft_method", "infer_layout": "core.infer",
    "prefix_cache": "core.prefix", "last_token_logits": "core.prefix",
    "PromptCache": "scaling.sweep", "rescaling_sweep": "scaling.sweep",
    "adapt": "scaling.adapt", "compare": "scaling.adapt",
    # scale vectors, half (b)
    "NormVariant": "norms.gamma", "apply_variant": "norms.gamma", "fold_gamma": "norms.gamma", "param_groups": "norms.gamma",
    "PretrainConfig": "norms.pretrain", "pretrain": "norms.pretrain",
    # the book
    "is_fast": "book.env", "output_dir": "book.env", "pick": "book.env", "repo_root": "book.env", "save_metrics": "book.env",
    "seed_everything": "book.env", "use_cores": "book.env",
    "PALETTE": "book.plotting", "gap_bars": "book.plotting", "save_figure": "book.plotting", "use_style": "book.plotting",
    "explorer": "book.explorer",
}

__all__ = [
    "LAYOUTS", "VISION_LAYOUTS", "Layout", "ModelMap", "count_hooks", "freeze", "model_map", "register_layout", "trainable_parameters",
    "Scaling", "Site", "last_token_index", "parse_site", "scaled",
    "ARCHITECTURES", "VLM_ARCHITECTURES", "tiny_batch", "tiny_model",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"scale_lib.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scale_lib' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


_compat.install()
