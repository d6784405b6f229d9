"""Real hub VLMs (SmolVLM, LLaVA, PaliGemma…) for readers with a GPU and hub access — opt-in, never run offline.

The book's notebooks use the tiny testbed; this module lets the same :mod:`scale_lib.scaling.adapt` code run
on a real model:

    model, processor = load_hub_vlm("HuggingFaceTB/SmolVLM-256M-Instruct")
    train = encode(processor, generate_benchmark(300, split="train", modalities=("vqa",)))
    result = compare(model, train, encode(processor, spatialeval_items(load_spatialeval("vqa"))), ("frozen", "scale", "lora_r1"))

:func:`encode` wraps each prompt in the model's chat template (image first, then the text with the
lettered options), left-pads so the answer is predicted at the last position, and labels each item
with the token of its answer **letter**; ``option_ids`` holds the letters' tokens, so scoring is the
argmax over the item's own letters. Image tensors either have a batch dimension (LLaVA, SmolVLM/Idefics3,
PaliGemma) or are Qwen-VL's flattened patches described by ``image_grid_thw``, which
:func:`scale_lib.core.prefix.select_rows` splits by row. (The Qwen path is tested on tiny batches; a real
Qwen processor needs torchvision, which this book's pinned torch cannot install, so it is untested here.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch

from scale_lib.core.batch import answer_labels
from scale_lib.core.prefix import _FLAT_VISION_KEYS, select_rows
from scale_lib.data.spatial import render
from scale_lib.data.spatial.items import LETTERS

logger = logging.getLogger(__name__)
__all__ = ["DEFAULT_MODEL", "default_dtype", "load_hub_vlm", "encode", "HubBatch", "HubItem", "spatialeval_items"]

DEFAULT_MODEL = "HuggingFaceTB/SmolVLM-256M-Instruct"


def default_dtype(device: str) -> torch.dtype:
    """bf16 on a GPU that computes it natively (Ampere and newer), fp16 on older GPUs (a T4 only emulates
    bf16), fp32 on the CPU."""
    if not str(device).startswith("cuda"):
        return torch.float32
    if torch.cuda.is_bf16_supported(including_emulation=False):
        return torch.bfloat16
    return torch.float16


def load_hub_vlm(model_id: str = DEFAULT_MODEL, *, dtype=None, device: str | None = None, device_map=None,
                 quantization_config=None):
    """``(model, processor)`` from the Hugging Face hub, frozen, in eval mode.

    ``device`` (default: CUDA if present) places the whole model; ``device_map`` (e.g. ``"auto"``)
    lets accelerate place it instead, and ``quantization_config`` (e.g. a
    ``transformers.BitsAndBytesConfig``) loads it quantised. ``dtype`` defaults to :func:`default_dtype`."""
    import os

    import transformers as tf

    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ConnectionError(f"HF_HUB_OFFLINE=1: cannot download {model_id}. The offline notebooks use scale_lib.models.testbed instead.")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = dtype or default_dtype(device)
    extra = {k: v for k, v in (("device_map", device_map), ("quantization_config", quantization_config)) if v is not None}
    try:
        processor = tf.AutoProcessor.from_pretrained(model_id)
        model = tf.AutoModelForImageTextToText.from_pretrained(model_id, dtype=dtype, **extra)
        model = (model if device_map is not None or quantization_config is not None else model.to(device)).eval()
    except OSError as err:
        raise ConnectionError(f"could not load {model_id!r} from the Hugging Face hub ({err}). Check the id and your network; "
                              "offline, the book's notebooks use scale_lib.models.testbed.load_testbed().") from err
    for p in model.parameters():
        p.requires_grad_(False)
    return model, processor


@dataclass(frozen=True)
class HubItem:
    """An item of the real SpatialEval: its own prompt text (options included), its image and the answer letter's index."""

    id: str
    task: str
    text: str
    image: object
    n_options: int
    answer_index: int
    qtype: str = "spatialeval"
    kind: str = "spatial"

    @property
    def options(self) -> tuple[str, ...]:
        return tuple(LETTERS[: self.n_options])

    def prompt(self) -> str:
        return f"{self.text}\nAnswer with the option's letter."


def spatialeval_items(rows: list[dict], *, n_options: int = 4) -> list[HubItem]:
    """Items from :func:`scale_lib.data.spatial.load_spatialeval` rows whose oracle option is a letter (others are skipped, with a count)."""
    out, skipped = [], 0
    for r in rows:
        option = str(r.get("option") or "").strip().strip("().").upper()
        if len(option) != 1 or option not in LETTERS[:n_options]:
            skipped += 1
            continue
        out.append(HubItem(str(r["id"]), r["task"], r["prompt"], r.get("image"), n_options, LETTERS.index(option)))
    if skipped:
        logger.warning("spatialeval_items: skipped %d of %d rows without a letter oracle option", skipped, len(rows))
    if not out:
        raise ValueError(f"none of the {len(rows)} rows has an oracle option among {list(LETTERS[:n_options])}")
    return out


@dataclass
class HubBatch:
    """Processor outputs for a list of items, left-padded: a :class:`scale_lib.core.batch.PromptBatch`, as
    :class:`scale_lib.models.testbed.EncodedBatch` is."""

    tensors: dict
    labels: torch.Tensor
    option_ids: torch.Tensor
    items: list = field(repr=False)

    device: object = None  # where inputs(rows) puts a minibatch; the whole dataset stays on the CPU

    def inputs(self, rows=None) -> dict:
        if rows is None:
            out = dict(self.tensors)
        else:
            if isinstance(rows, slice):
                rows = torch.arange(len(self.items))[rows]
            out = select_rows(self.tensors, rows)  # per-row tensors, and each row's own patches of a flattened (Qwen-VL) pixel_values
        return out if self.device is None else {k: v.to(self.device) for k, v in out.items()}

    def __len__(self) -> int:
        return len(self.items)


def _image(item, cell: int):
    from PIL import Image

    if getattr(item, "image", None) is not None:
        return item.image.convert("RGB")

    return Image.fromarray(render(item.layout, cell))


def encode(processor, items, *, cell: int = 64, answer_prefix: str = "", device=None, batch_size: int = 64) -> HubBatch:
    """Chat-templated, left-padded inputs with images; labels are the answer letters' tokens.

    The processor runs on ``batch_size`` items at a time and the encoded tensors stay on the CPU;
    ``device`` is where each minibatch goes when :meth:`HubBatch.inputs` selects it (the labels live there).

    ``answer_prefix`` is what the model writes before the letter (e.g. ``" "`` for tokenizers that
    attach a space to the word after the generation prompt); check one item by generating.
    """
    if not items:
        raise ValueError("encode needs at least one item")
    no_image = [i.id for i in items if getattr(i, "has_image", True) is False]
    if no_image:
        raise ValueError(f"items {no_image[:3]} have no image (TQA); use modality 'vqa' or 'vtqa'")
    tok = processor.tokenizer
    letter_ids = []
    for letter in LETTERS:
        ids = tok.encode(answer_prefix + letter, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"{answer_prefix + letter!r} is {len(ids)} tokens for this tokenizer; pick an answer_prefix that makes each letter one token")
        letter_ids.append(ids[0])
    texts = [processor.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": i.prompt()}]}],
                                           add_generation_prompt=True) for i in items]
    old_side = tok.padding_side
    tok.padding_side = "left"
    chunks = []
    try:  # in chunks: the processor never holds every image of the dataset at once
        for start in range(0, len(items), batch_size):
            part = items[start : start + batch_size]
            out = processor(text=texts[start : start + batch_size], images=[[_image(i, cell)] for i in part], padding=True, return_tensors="pt")
            chunk = {k: v for k, v in out.items() if isinstance(v, torch.Tensor)}
            _check_rows(chunk, len(part))
            chunks.append(chunk)
    finally:
        tok.padding_side = old_side
    tensors = _concat_left_padded(chunks, pad_id=tok.pad_token_id or 0)
    n = len(items)
    option_ids = torch.full((n, len(LETTERS)), -1, dtype=torch.long)
    for r, item in enumerate(items):
        option_ids[r, : len(item.options)] = torch.tensor(letter_ids[: len(item.options)])
    labels = answer_labels(option_ids, [i.answer_index for i in items])
    if device is not None:
        labels, option_ids = labels.to(device), option_ids.to(device)
    return HubBatch(tensors, labels, option_ids, list(items), device=device)


def _check_rows(tensors: dict, n: int) -> None:
    flat = _FLAT_VISION_KEYS if "image_grid_thw" in tensors else set()  # Qwen-VL: patches of all images in one tensor
    bad = [k for k, v in tensors.items() if v.shape[0] != n and k not in flat]
    if bad:
        raise ValueError(f"processor outputs {bad} have no per-item batch dimension and no image_grid_thw to split them by; "
                         "use a LLaVA, SmolVLM/Idefics3, PaliGemma or Qwen-VL checkpoint")
    if flat and "mm_token_type_ids" not in tensors:
        raise ValueError("a Qwen-VL processor output without mm_token_type_ids: call the processor with return_mm_token_type_ids=True")


def _concat_left_padded(chunks: list[dict], *, pad_id: int) -> dict:
    """One dict from processor outputs of several chunks: per-token tensors left-padded to the longest chunk
    (``input_ids`` with the pad id, masks and token types with 0), everything else concatenated."""
    if len(chunks) == 1:
        return chunks[0]
    width = max(c["input_ids"].shape[1] for c in chunks)
    out = {}
    for key in chunks[0]:
        parts = []
        for c in chunks:
            v = c[key]
            if v.dim() >= 2 and tuple(v.shape[:2]) == tuple(c["input_ids"].shape) and v.shape[1] < width:
                pad = torch.full((v.shape[0], width - v.shape[1], *v.shape[2:]), pad_id if key == "input_ids" else 0, dtype=v.dtype)
                v = torch.cat([pad, v], 1)
            parts.append(v)
        out[key] = torch.cat(parts)
    return out
