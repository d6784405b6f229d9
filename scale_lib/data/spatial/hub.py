"""The real SpatialEval (Hugging Face ``MilaWang/SpatialEval``), for readers with network access."""

from __future__ import annotations

import os

from .items import MODALITIES

__all__ = ["load_spatialeval", "HUB_DATASET"]

HUB_DATASET = "MilaWang/SpatialEval"
_TASK_OF = {"spatialmap": "spatial_map", "spatial_map": "spatial_map", "mazenav": "maze_nav", "maze_nav": "maze_nav", "spatialgrid": "spatial_grid", "spatial_grid": "spatial_grid"}


def _task_from_id(item_id: str) -> str:
    key = item_id.lower().replace("-", "").replace(" ", "")
    for prefix, task in _TASK_OF.items():
        if key.startswith(prefix):
            return task
    raise ValueError(f"cannot tell the task of SpatialEval item {item_id!r} (Spatial-Real items are not supported)")


def load_spatialeval(modality: str = "tqa", *, limit: int | None = None) -> list[dict]:
    """Load the real SpatialEval test split (configs ``tqa`` / ``vqa`` / ``vtqa``) through ``datasets``.

    Returns one dict per item with ``id``, ``task``, ``prompt`` (the benchmark's own text, which
    already contains the options), ``answer`` (the oracle answer) and ``image`` (a PIL image, or
    ``None`` for TQA). The real prompts are free-form multiple choice, so score generated answers
    with :func:`scale_lib.data.spatial.score_lenient`-style extraction against ``answer``.

    Raises:
        ValueError: unknown modality.
        ImportError: ``datasets`` is not installed (``pip install "scale_lib[hub]"``).
        ConnectionError: the hub cannot be reached (offline, or ``HF_HUB_OFFLINE=1``) — this book's
            generator, :func:`scale_lib.data.spatial.generate_benchmark`, builds the same tasks offline.
    """
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; valid modalities are {MODALITIES}")
    try:
        import datasets
    except ImportError as err:
        raise ImportError('load_spatialeval needs the `datasets` package: pip install "scale_lib[hub]"') from err
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ConnectionError(f"HF_HUB_OFFLINE=1: cannot download {HUB_DATASET}. Use scale_lib.data.spatial.generate_benchmark() offline.")
    try:
        ds = datasets.load_dataset(HUB_DATASET, modality, split="test")
    except Exception as err:  # datasets raises several types for an unreachable hub
        raise ConnectionError(f"could not load {HUB_DATASET} ({modality}) from the Hugging Face hub: {err}. "
                              "Offline, use scale_lib.data.spatial.generate_benchmark() instead.") from err
    rows = []
    for i, row in enumerate(ds):
        if limit is not None and i >= limit:
            break
        item_id = str(row.get("id", i))
        try:
            task = _task_from_id(item_id)
        except ValueError:
            continue
        rows.append({"id": item_id, "task": task, "prompt": row.get("text", ""), "answer": str(row.get("oracle_answer", row.get("answer", ""))),
                     "option": row.get("oracle_option"), "image": row.get("image")})
    return rows


