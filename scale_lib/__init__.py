"""scale_lib — tiny multiplicative scale parameters inside transformers, the library under the book.

The pieces, by the papers' names:

* :func:`scaled` / :class:`Scaling` — multiply attention heads, attention outputs or MLP outputs
  at the last token (or any positions) by constants or trainable tensors; the ground ScAle stands on.
* :func:`model_map` / :class:`Layout` — where those sites live in each supported architecture.
* :func:`tiny_model` / :func:`tiny_batch` — tiny offline instances of real transformers architectures.
"""

from .arch import LAYOUTS, VISION_LAYOUTS, Layout, ModelMap, count_hooks, freeze, model_map, trainable_parameters
from .book import is_fast, output_dir, pick, repo_root, save_metrics, seed_everything, use_cores
from .hooks import Scaling, Site, last_token_index, parse_site, scaled
from .plotting import PALETTE, explorer, gap_bars, save_figure, use_style
from .tiny import ARCHITECTURES, VLM_ARCHITECTURES, tiny_batch, tiny_model

__version__ = "0.1.0"

__all__ = [
    "LAYOUTS", "VISION_LAYOUTS", "Layout", "ModelMap", "count_hooks", "freeze", "model_map", "trainable_parameters",
    "is_fast", "output_dir", "pick", "repo_root", "save_metrics", "seed_everything", "use_cores",
    "Scaling", "Site", "last_token_index", "parse_site", "scaled",
    "PALETTE", "explorer", "gap_bars", "save_figure", "use_style",
    "ARCHITECTURES", "VLM_ARCHITECTURES", "tiny_batch", "tiny_model",
]
