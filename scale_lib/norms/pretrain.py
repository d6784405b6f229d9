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

import time
from dataclasses import dataclass, field

import torch
import transformers as tf
from torch import nn
from tqdm.auto import tqdm

from scale_lib.core.schedules import lr_factor
from scale_lib.data.corpus import CharCorpus
from scale_lib.norms.gamma import param_groups

__all__ = ["CharCorpus", "char_llama", "char_model", "CHAR_ARCHITECTURES", "train_lm", "TrainHistory", "evaluate_lm", "lr_factor", "PretrainConfig",
           "pretrain", "make_optimizers", "bare_loop", "throughput_ratio", "OPTIMIZERS"]


CHAR_ARCHITECTURES = ("llama", "qwen3")


def char_model(vocab_size: int, arch: str = "llama", *, layers: int = 4, hidden: int = 128, heads: int = 8, kv_heads: int | None = None,
               seed: int = 0, tie: bool = True, **config) -> nn.Module:
    """A small causal LM for character-level text: ``"llama"`` (Pre-Norm) or ``"qwen3"`` (Pre-Norm +
    QK-norm, whose q/k norms are Output-Norms). Same seed -> same initial weights."""
    classes = {"llama": (tf.LlamaConfig, tf.LlamaForCausalLM), "qwen3": (tf.Qwen3Config, tf.Qwen3ForCausalLM)}
    if arch not in classes:
        raise ValueError(f"unknown architecture {arch!r}; valid choices are {CHAR_ARCHITECTURES}")
    config_cls, model_cls = classes[arch]
    extra = {"head_dim": hidden // heads} if arch == "qwen3" else {}
    torch.manual_seed(seed)
    cfg = config_cls(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads or heads,
        max_position_embeddings=1024,
        tie_word_embeddings=tie,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
        **extra,
        **config,
    )
    return model_cls(cfg)


def char_llama(vocab_size: int, *, layers: int = 4, hidden: int = 128, heads: int = 8, kv_heads: int | None = None, seed: int = 0, **config) -> tf.LlamaForCausalLM:
    """A small ``LlamaForCausalLM`` for character-level text (4 layers, d=128, 8 heads: ≈ 1.06 M params with a 96-character vocabulary)."""
    return char_model(vocab_size, "llama", layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, seed=seed, **config)


OPTIMIZERS = ("adamw", "sgd", "muon")


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


@dataclass
class PretrainConfig:
    """Everything :func:`pretrain` needs besides the model and the corpus.

    ``optimizer``: ``"adamw"``; ``"sgd"`` (momentum, no per-coordinate preconditioning); ``"muon"``
    (``torch.optim.Muon`` on the hidden matrices, AdamW on embeddings, γ and biases; one learning
    rate for both through Muon's ``match_rms_adamw`` scaling). ``wd_rule`` decides which γ are
    decayed (:func:`scale_lib.norms.gamma.param_groups`).
    """

    steps: int = 600
    lr: float = 1e-3
    optimizer: str = "adamw"
    schedule: str = "cosine"
    warmup: int = 20
    decay_fraction: float = 0.2
    batch_size: int = 16
    seq_len: int = 128
    weight_decay: float = 0.0
    wd_rule: str = "iwd"
    gamma_decay: float | None = None
    betas: tuple[float, float] = (0.9, 0.95)
    momentum: float = 0.9
    grad_clip: float = 1.0
    eval_every: int = 0
    eval_batches: int = 8
    seed: int = 0
    progress: bool = True
    desc: str = "pre-training"

    def __post_init__(self):
        if self.steps < 1 or self.lr <= 0:
            raise ValueError(f"need steps >= 1 and lr > 0, got steps={self.steps}, lr={self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid optimizers are {OPTIMIZERS}")
        lr_factor(0, self.steps, self.warmup, self.schedule)  # validates the schedule name


def make_optimizers(model: nn.Module, config: PretrainConfig) -> list[torch.optim.Optimizer]:
    """The optimizer(s) for ``config`` over weight-decay groups (one, or two for Muon + AdamW)."""

    groups = param_groups(model, config.weight_decay, config.wd_rule, config.gamma_decay)
    if config.optimizer == "adamw":
        return [torch.optim.AdamW(groups, lr=config.lr, betas=config.betas)]
    if config.optimizer == "sgd":
        return [torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True)]
    muon = [g for g in groups if g["name"] == "matrices"]
    rest = [g for g in groups if g["name"] != "matrices"]
    opts = [torch.optim.Muon(muon, lr=config.lr, adjust_lr_fn="match_rms_adamw")] if muon else []
    return opts + ([torch.optim.AdamW(rest, lr=config.lr, betas=config.betas)] if rest else [])


def pretrain(model: nn.Module, corpus: CharCorpus, config: PretrainConfig | None = None, **overrides) -> TrainHistory:
    """Pre-train a causal LM on ``corpus``: sample, forward, loss, backward, clip, step — one loop for
    every norm variant, optimizer and schedule.

    It runs through 🤗 Accelerate, so ``accelerate launch --num_processes N your_script.py`` spreads it
    over N processes (GPUs, or CPU processes with gloo) unchanged: ``batch_size`` is the **global**
    batch; every process draws the same global batch from the same seed and trains on its own slice,
    so gradients averaged across processes equal the single-process gradient, and an N-process run
    matches a single-process one up to floating-point summation order (a test launches 2 CPU
    processes and checks it). Returns a :class:`TrainHistory` (train loss every step — the mean over
    the global batch —, validation loss every ``eval_every`` steps and at the end, tokens/s). Same
    seed -> same batches -> same numbers on CPU.
    """
    from accelerate import Accelerator

    config = PretrainConfig(**{**(config.__dict__ if config else {}), **overrides})
    import os

    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1  # started by accelerate launch / torchrun
    accelerator = Accelerator(cpu=launched and not torch.cuda.is_available())  # several CPU processes: gloo
    world, rank = accelerator.num_processes, accelerator.process_index
    if config.batch_size % world:
        raise ValueError(f"batch_size={config.batch_size} is the global batch and must divide evenly over {world} processes")
    local = slice(rank * (config.batch_size // world), (rank + 1) * (config.batch_size // world))
    opts = make_optimizers(model, config)
    model, *opts = accelerator.prepare(model, *opts)
    for opt in opts:
        for g in opt.param_groups:
            g["base_lr"] = g["lr"]
    params = [p for p in model.parameters() if p.requires_grad]
    gen = torch.Generator().manual_seed(config.seed)  # the same global batches in every process
    hist = TrainHistory()
    model.train()
    start = time.perf_counter()
    for step in tqdm(range(config.steps), desc=config.desc, disable=not (config.progress and accelerator.is_main_process), leave=False):
        factor = lr_factor(step, config.steps, config.warmup, config.schedule, config.decay_fraction)
        for opt in opts:
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * factor
        x, y = corpus.batch("train", config.batch_size, config.seq_len, gen)
        x, y = x[local].to(accelerator.device), y[local].to(accelerator.device)
        logits = model(input_ids=x).logits
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if config.grad_clip:
            accelerator.clip_grad_norm_(params, config.grad_clip)
        for opt in opts:
            opt.step()
        hist.steps.append(step)
        hist.train_loss.append((accelerator.reduce(loss.detach(), "mean") if world > 1 else loss).item())
        hist.tokens += x.numel() * world
        if config.eval_every and (step + 1) % config.eval_every == 0 and step + 1 < config.steps:
            hist.seconds += time.perf_counter() - start
            hist.val_steps.append(step + 1)
            hist.val_loss.append(evaluate_lm(model, corpus, batches=config.eval_batches, seq_len=config.seq_len))
            start = time.perf_counter()
    hist.seconds += time.perf_counter() - start
    hist.val_steps.append(config.steps)
    hist.val_loss.append(evaluate_lm(model, corpus, batches=config.eval_batches, seq_len=config.seq_len))
    model.eval()
    return hist


def train_lm(model: nn.Module, corpus: CharCorpus, *, steps: int = 300, lr: float = 3e-3, batch_size: int = 16, seq_len: int = 128,
             warmup: int = 20, weight_decay: float = 0.0, eval_every: int = 0, seed: int = 0, progress: bool = True) -> TrainHistory:
    """Train a causal LM on ``corpus`` with AdamW and a warmup + cosine schedule (:func:`pretrain` with defaults)."""
    return pretrain(model, corpus, PretrainConfig(steps=steps, lr=lr, batch_size=batch_size, seq_len=seq_len, warmup=warmup,
                                                  weight_decay=weight_decay, eval_every=eval_every, seed=seed, progress=progress, desc="training"))


def bare_loop(model: nn.Module, corpus: CharCorpus, *, steps: int, lr: float, batch_size: int, seq_len: int, seed: int = 0) -> float:
    """The loop a reader writes by hand (sample, forward, loss, backward, clip, AdamW step); tokens/s."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    model.train()
    start = time.perf_counter()
    for _ in range(steps):
        x, y = corpus.batch("train", batch_size, seq_len, gen)
        loss = nn.functional.cross_entropy(model(input_ids=x).logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
    return steps * batch_size * seq_len / (time.perf_counter() - start)


def throughput_ratio(make_model, corpus: CharCorpus, config: PretrainConfig, *, blocks: int = 8, steps: int = 40) -> dict:
    """Tokens/s of :func:`pretrain` over :func:`bare_loop` on the same model and batches.

    ``blocks`` pairs of ``steps``-step runs, interleaved (who goes first alternates) after one
    warm-up pair; the ratio is the median of the paired ratios (robust to drifts in machine speed).
    """
    import statistics

    cfg = PretrainConfig(**{**config.__dict__, "steps": steps, "eval_every": 0, "eval_batches": 1, "progress": False})
    ours, bare = [], []
    for block in range(blocks + 1):
        runs = [("ours", lambda: pretrain(make_model(block), corpus, cfg, seed=block).tokens_per_second),
                ("bare", lambda: bare_loop(make_model(block), corpus, steps=steps, lr=cfg.lr, batch_size=cfg.batch_size, seq_len=cfg.seq_len, seed=block))]
        for name, fn in runs if block % 2 == 0 else runs[::-1]:
            tps = fn()
            if block:
                (ours if name == "ours" else bare).append(tps)
    return {"ratio": statistics.median(a / b for a, b in zip(ours, bare)), "ours_tokens_per_s": statistics.median(ours),
            "bare_tokens_per_s": statistics.median(bare), "blocks": blocks, "steps": steps}
