"""Cloze scoring for a real LLM: each option is scored by the logit of its own first token.

Small language models are usually evaluated this way rather than by asking for a letter (the
lm-evaluation-harness scores the option's words as the continuation): with lettered options a
135 M model sits at chance even on questions it can answer. :func:`encode_cloze` turns
:class:`~scale_lib.data.spatial.graded.GradedItem` s into a :class:`ClozeBatch` — left-padded prompts,
the answer token, and each item's option tokens — which every trainer and scorer of the book takes
as it takes the testbed's batches (:func:`scale_lib.scaling.adapt.compare`, :class:`scale_lib.scaling.sweep.PromptCache`).

:func:`level_table` reports accuracy per difficulty level with Wilson intervals, and
:func:`partial_levels` applies the book's rule for "the model has a partial skill here": the
interval lies above chance and below perfect, each by a margin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from scale_lib.core.batch import answer_labels, left_pad
from scale_lib.core.stats import wilson

__all__ = ["ClozeBatch", "encode_cloze", "option_token_ids", "wilson", "level_table", "partial_levels", "letter_vs_cloze", "lettered", "Reworded"]


@dataclass
class ClozeBatch:
    """Prompts left-padded so that the answer is predicted at the last position (a :class:`scale_lib.core.batch.PromptBatch`)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor  # the answer's first token
    option_ids: torch.Tensor  # (items, options): each option's first token
    items: list = field(repr=False)

    def inputs(self, rows=None) -> dict:
        """Model inputs of ``rows`` (all by default), without the columns that are padding in every selected row.

        Levels differ in prompt length, so a minibatch of short prompts would otherwise pay for the
        longest prompt of the whole set. Positions then count from the first column kept: RoPE models
        (Llama, SmolLM2) depend only on relative positions, so this changes nothing but the float rounding.
        """
        sel = slice(None) if rows is None else rows
        ids, mask = self.input_ids[sel], self.attention_mask[sel]
        first = int(mask.any(0).float().argmax()) if mask.numel() else 0
        return dict(input_ids=ids[:, first:], attention_mask=mask[:, first:])

    def __len__(self) -> int:
        return len(self.items)

    @property
    def levels(self) -> list[str]:
        return [i.level for i in self.items]

    def subset(self, rows) -> ClozeBatch:
        rows = torch.as_tensor(rows)
        return ClozeBatch(self.input_ids[rows], self.attention_mask[rows], self.labels[rows], self.option_ids[rows], [self.items[int(r)] for r in rows])


def option_token_ids(tokenizer, words) -> list[int]:
    """The token of ``" " + word`` for each word; raises if a word is not a single token (cloze scoring reads one logit)."""
    out = []
    for w in words:
        ids = tokenizer(" " + w, add_special_tokens=False).input_ids
        if len(ids) != 1:
            raise ValueError(f"option {w!r} is {len(ids)} tokens after a space ({ids}); cloze scoring here needs one-token options")
        out.append(ids[0])
    return out


def encode_cloze(items, tokenizer, *, max_tokens: int = 512) -> ClozeBatch:
    """Tokenise ``item.prompt()`` for each item, left-pad, and record the options' first tokens.

    Raises if two options of one item share a first token (they could not be told apart) or a prompt
    is longer than ``max_tokens``.
    """
    items = list(items)
    if not items:
        raise ValueError("encode_cloze needs at least one item")
    prompts = [i.prompt() for i in items]
    ids = [tokenizer(p).input_ids for p in prompts]
    longest = max(len(x) for x in ids)
    if longest > max_tokens:
        raise ValueError(f"a prompt has {longest} tokens, more than max_tokens={max_tokens}")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    input_ids, mask = left_pad(ids, pad)
    width = max(len(i.options) for i in items)
    option_ids = torch.full((len(items), width), -1, dtype=torch.long)
    for r, item in enumerate(items):
        toks = option_token_ids(tokenizer, item.options)
        if len(set(toks)) != len(toks):
            raise ValueError(f"item {r} ({item.level}): options {item.options} share a first token")
        option_ids[r, : len(toks)] = torch.tensor(toks)
    labels = answer_labels(option_ids, [i.answer_index for i in items])
    return ClozeBatch(input_ids, mask, labels, option_ids, items)


def level_table(correct, items):
    """Accuracy per level with its 95 % Wilson interval and chance rate (a pandas DataFrame, one row per level)."""
    import pandas as pd

    correct = torch.as_tensor(correct, dtype=torch.float)
    rows = []
    for level in dict.fromkeys(i.level for i in items):
        m = torch.tensor([i.level == level for i in items])
        k, n = float(correct[m].sum()), int(m.sum())
        lo, hi = wilson(k, n)
        first = next(i for i in items if i.level == level)
        rows.append(dict(level=level, family=first.family, kind=first.kind, n=n, accuracy=k / n, low=lo, high=hi, chance=1 / len(first.options)))
    return pd.DataFrame(rows)


def partial_levels(table, *, margin: float = 0.05) -> list[str]:
    """Levels where the model is partly right: the interval's low end is above chance + ``margin``
    and its high end below 1 − ``margin``. Spatial levels only."""
    keep = table[(table.kind == "spatial") & (table.low > table.chance + margin) & (table.high < 1 - margin)]
    return list(keep.level)


@torch.no_grad()
def letter_vs_cloze(model, tokenizer, items, *, batch_size: int = 32) -> dict[str, float]:
    """Accuracy of the same items scored two ways: lettered options (A–D after the question, read
    the letters' logits) and cloze (the options' own first tokens after "Answer:")."""
    cloze = encode_cloze(items, tokenizer)
    lettered = [_Lettered(i) for i in items]
    letter_batch = encode_cloze(lettered, tokenizer)
    out = {}
    for name, batch in (("cloze", cloze), ("letter", letter_batch)):
        right = []
        for s in range(0, len(batch), batch_size):
            rows = slice(s, s + batch_size)
            logits = model(**batch.inputs(rows), logits_to_keep=1).logits[:, -1]
            pick = logits.gather(-1, batch.option_ids[rows].clamp_min(0)).masked_fill(batch.option_ids[rows] < 0, float("-inf")).argmax(-1)
            right.append(pick == torch.tensor([i.answer_index for i in batch.items[rows]]))
        out[name] = torch.cat(right).float().mean().item()
    out["chance"] = sum(1 / len(i.options) for i in items) / len(items)
    return out


def lettered(item) -> _Lettered:
    """The same question asked with lettered options (A–D after the question); the options to score are the letters."""
    return _Lettered(item)


@dataclass(frozen=True)
class Reworded:
    """The same item under another prompt template (``{context}`` and ``{question}`` are filled in)."""

    item: object
    template: str

    def __post_init__(self):
        if "{context}" not in self.template or "{question}" not in self.template:
            raise ValueError(f"template {self.template!r} must contain {{context}} and {{question}}")

    @property
    def level(self) -> str:
        return self.item.level

    @property
    def options(self) -> tuple[str, ...]:
        return self.item.options

    @property
    def answer_index(self) -> int:
        return self.item.answer_index

    def prompt(self) -> str:
        return self.template.format(context=self.item.context, question=self.item.question)


@dataclass(frozen=True)
class _Lettered:
    """An item asked with lettered options; the options to score are the letters."""

    item: object

    @property
    def level(self) -> str:
        return self.item.level

    @property
    def options(self) -> tuple[str, ...]:
        return tuple("ABCDE"[: len(self.item.options)])

    @property
    def answer_index(self) -> int:
        return self.item.answer_index

    def prompt(self) -> str:
        opts = "\n".join(f"{'ABCDE'[k]}. {o}" for k, o in enumerate(self.item.options))
        return f"{self.item.context}\nQuestion: {self.item.question}\n{opts}\nAnswer with the option's letter.\nAnswer:"
