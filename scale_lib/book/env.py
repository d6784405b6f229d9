"""Book-wide switches and paths: fast mode, the repository root, figures and metrics, seeding."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

__all__ = ["FAST_ENV", "FIGURES_ENV", "figures_root", "is_fast", "pick", "repo_root", "output_dir", "save_metrics", "seed_everything", "use_cores"]

#: Set this environment variable to 1 to shrink every notebook run (tests do).
FAST_ENV = "SCALE_LIB_FAST"


def show_library_logs(level: int = logging.INFO) -> None:
    """The library logs (``logging``) instead of printing; in the book its INFO messages (e.g. "de-quantizing
    SmolLM2, about 40 s once") are shown under the cell. Called when this module is imported; idempotent."""
    log = logging.getLogger("scale_lib")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(level)


def is_fast() -> bool:
    """True when ``SCALE_LIB_FAST=1``: notebooks shrink every run to seconds (the tests' mode)."""
    value = os.environ.get(FAST_ENV, "0").strip().lower()
    if value not in ("", "0", "1", "false", "true", "no", "yes"):
        raise ValueError(f"{FAST_ENV}={value!r}; use 1 (fast) or 0 (full)")
    return value in ("1", "true", "yes")


def pick(full, fast):
    """``full`` in full mode, ``fast`` in fast mode — the one switch notebooks use to size runs."""
    return fast if is_fast() else full


def repo_root() -> Path:
    """The repository root (the folder holding ``pyproject.toml`` and ``notebooks/``).

    Found from the installed package (an editable install lives in the repository), then from the
    current directory upwards (nbmake runs notebooks inside ``notebooks/``).
    """
    starts = [Path(__file__).resolve().parent, Path.cwd().resolve()]
    for start in starts:
        for d in (start, *start.parents):
            if (d / "pyproject.toml").is_file() and (d / "scale_lib").is_dir() and (d / "notebooks").is_dir():
                return d
    raise FileNotFoundError(
        "could not find the scale_lib repository root (a folder with pyproject.toml, scale_lib/ and notebooks/) "
        f"above {starts[0]} or {starts[1]}; run from inside a clone of the repository"
    )


#: Set this to the folder that should receive the chapters' figures and metrics (full mode).
FIGURES_ENV = "SCALE_LIB_FIGURES"


def figures_root() -> Path:
    """Where full-mode figures go: ``$SCALE_LIB_FIGURES`` if set, else ``figures/`` of the repository
    clone the code or the current directory is in, else ``figures/`` under the current directory (a
    reader's own notebook outside a clone). Nothing is written anywhere else."""
    env = os.environ.get(FIGURES_ENV)
    if env:
        return Path(env).expanduser()
    try:
        return repo_root() / "figures"
    except FileNotFoundError:
        return Path.cwd() / "figures"


def output_dir(notebook: str) -> Path:
    """Where a notebook's figures and metrics go.

    Full mode: ``<figures_root()>/<notebook>/`` — ``figures/`` in the repository (committed; the README shows them).
    Fast mode: a scratch folder under the system temp dir, so test runs exercise the same code
    without overwriting the real figures with tiny-run ones.
    """
    if not notebook or "/" in notebook or notebook.startswith("."):
        raise ValueError(f"notebook name must be a plain name like '00_scaling_hooks', got {notebook!r}")
    base = Path(tempfile.gettempdir()) / "scale_lib_fast_figures" if is_fast() else figures_root()
    d = base / notebook
    d.mkdir(parents=True, exist_ok=True)
    return d


def _jsonable(v):
    if isinstance(v, torch.Tensor):
        v = v.item() if v.numel() == 1 else v.tolist()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return float(f"{v:.6g}")  # 6 significant digits: small errors stay visible (1e-17, not 0)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def save_metrics(notebook: str, metrics: dict, *, tolerances: dict | None = None) -> Path:
    """Write ``metrics`` as ``<output_dir>/metrics.json`` (keys sorted), replacing the old file whole —
    so no key survives that the chapter's code no longer writes — and return its path.

    ``tolerances``: ``{key: (abs, rel, "why")}`` for numbers a fresh run may not reproduce exactly (timings,
    float drift across CPUs); :mod:`scale_lib.book.verify` allows ``|new − old| <= abs + rel·|old|`` there
    and exact equality everywhere else. Stored under ``_tolerances`` with their reasons."""
    out = dict(sorted(_jsonable(metrics).items()))
    if tolerances:
        bad = [k for k, t in tolerances.items() if not (isinstance(t, (tuple, list)) and len(t) == 3 and isinstance(t[2], str) and t[2].strip())]
        if bad:
            raise ValueError(f"tolerances {bad} must be (abs, rel, 'why'), with the reason a fresh run may differ")
        missing = [k for k in tolerances if k.split(".")[0] not in out]
        if missing:
            raise ValueError(f"tolerances for keys the metrics do not have: {missing}; keys are {sorted(out)}")
        out["_tolerances"] = {k: {"abs": float(a), "rel": float(r), "why": why} for k, (a, r, why) in sorted(tolerances.items())}
    path = output_dir(notebook) / "metrics.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    return path


def use_cores(limit: int | None = None) -> int:
    """Let torch use the CPU cores this process may run on (``os.sched_getaffinity``, which respects
    containers and ``taskset``; ``os.cpu_count()`` where that is missing), at most ``limit``. Returns the count.

    One call at the top of each notebook: a reader with 8 cores is not held to 2, and a reader on a
    2-core machine is not oversubscribed (two threads per core slow torch down several times).
    """

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n = max(1, min(n, limit) if limit else n)
    torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (``transformers.set_seed``: CUDA too); return a torch Generator seeded the same way."""
    import transformers

    transformers.set_seed(seed)
    return torch.Generator().manual_seed(seed)


show_library_logs()
