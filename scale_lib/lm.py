"""Character-level language modelling on text that ships with Python: corpus, tokenizer, training loop.

No hub, no download: the default corpus is the English prose of Python's own help pages
(``pydoc_data.topics``, about 0.46 M characters, always installed). The training loop is written to
be read: sample a batch, forward, loss, backward, step — nanoGPT-style, with a tqdm bar and a
history of losses.

    >>> corpus = CharCorpus.from_pydoc()
    >>> model = char_llama(corpus.vocab_size)
    >>> history = train_lm(model, corpus, steps=300)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import transformers as tf
from torch import nn
from tqdm.auto import tqdm

__all__ = ["CharCorpus", "char_llama", "train_lm", "TrainHistory", "evaluate_lm", "warmup_cosine"]


def _pydoc_text() -> str:
    import pydoc_data.topics as topics

    return "\n\n".join(topics.topics[k] for k in sorted(topics.topics))


@dataclass
class CharCorpus:
    """A text split 90/10 into train/validation, as tensors of character ids.

    Characters outside the ``max_vocab - 1`` most frequent ones map to id 0 (``unk``).
    """

    text: str
    max_vocab: int = 96
    chars: list[str] = field(init=False)
    train: torch.Tensor = field(init=False, repr=False)
    val: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self):
        if len(self.text) < 1000:
            raise ValueError(f"corpus has {len(self.text)} characters; need at least 1000")
        counts: dict[str, int] = {}
        for ch in self.text:
            counts[ch] = counts.get(ch, 0) + 1
        common = sorted(counts, key=lambda c: (-counts[c], c))[: self.max_vocab - 1]
        self.chars = ["\ufffd"] + sorted(common)
        self._index = {c: i for i, c in enumerate(self.chars)}
        ids = self.encode(self.text)
        split = int(0.9 * len(ids))
        self.train, self.val = ids[:split], ids[split:]

    @classmethod
    def from_pydoc(cls, **kw) -> "CharCorpus":
        """The English prose of Python's help pages (``pydoc_data.topics``)."""
        return cls(_pydoc_text(), **kw)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, s: str) -> torch.Tensor:
        return torch.tensor([self._index.get(c, 0) for c in s], dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def batch(self, split: str, batch_size: int, seq_len: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        data = {"train": self.train, "val": self.val}.get(split)
        if data is None:
            raise ValueError(f"unknown split {split!r}; valid splits are 'train', 'val'")
        if len(data) <= seq_len + 1:
            raise ValueError(f"seq_len={seq_len} is too long for the {split} split ({len(data)} characters)")
        start = torch.randint(0, len(data) - seq_len - 1, (batch_size,), generator=gen)
        x = torch.stack([data[s : s + seq_len] for s in start.tolist()])
        y = torch.stack([data[s + 1 : s + seq_len + 1] for s in start.tolist()])
        return x, y


def char_llama(vocab_size: int, *, layers: int = 4, hidden: int = 128, heads: int = 8, kv_heads: int | None = None, seed: int = 0, **config) -> tf.LlamaForCausalLM:
    """A small ``LlamaForCausalLM`` for character-level text (4 layers, d=128, 8 heads: 0.8 M params)."""
    torch.manual_seed(seed)
    cfg = tf.LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads or heads,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
        **config,
    )
    return tf.LlamaForCausalLM(cfg)


def warmup_cosine(opt: torch.optim.Optimizer, steps: int, warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over ``warmup`` steps, then cosine decay to 0 at ``steps`` (the book's one schedule)."""
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, warmup)) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )


@dataclass
class TrainHistory:
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else float("nan")


@torch.no_grad()
def evaluate_lm(model: nn.Module, corpus: CharCorpus, *, batches: int = 8, batch_size: int = 32, seq_len: int = 128, seed: int = 1234) -> float:
    """Mean validation cross-entropy (nats/char) over fixed, seeded validation batches."""
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(batches):
        x, y = corpus.batch("val", batch_size, seq_len, gen)
        logits = model(input_ids=x).logits
        losses.append(nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()).item())
    model.train(was_training)
    return sum(losses) / len(losses)


def train_lm(
    model: nn.Module,
    corpus: CharCorpus,
    *,
    steps: int = 300,
    lr: float = 3e-3,
    batch_size: int = 16,
    seq_len: int = 128,
    warmup: int = 20,
    weight_decay: float = 0.0,
    eval_every: int = 0,
    seed: int = 0,
    progress: bool = True,
) -> TrainHistory:
    """Train a causal LM on ``corpus`` with AdamW and a warmup + cosine schedule.

    Returns a :class:`TrainHistory` (train loss every step; validation loss every ``eval_every``
    steps and at the end). Same seed -> same batches -> same numbers on CPU.
    """
    if steps < 1 or lr <= 0:
        raise ValueError(f"need steps >= 1 and lr > 0, got steps={steps}, lr={lr}")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay)
    sched = warmup_cosine(opt, steps, warmup)
    hist = TrainHistory()
    model.train()
    start = time.perf_counter()
    for step in tqdm(range(steps), desc="training", disable=not progress, leave=False):
        x, y = corpus.batch("train", batch_size, seq_len, gen)
        logits = model(input_ids=x).logits
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        hist.steps.append(step)
        hist.train_loss.append(loss.item())
        hist.tokens += x.numel()
        if eval_every and (step + 1) % eval_every == 0 and step + 1 < steps:
            hist.seconds += time.perf_counter() - start
            hist.val_steps.append(step + 1)
            hist.val_loss.append(evaluate_lm(model, corpus, seq_len=seq_len))
            start = time.perf_counter()
    hist.seconds += time.perf_counter() - start
    hist.val_steps.append(steps)
    hist.val_loss.append(evaluate_lm(model, corpus, seq_len=seq_len))
    model.eval()
    return hist
