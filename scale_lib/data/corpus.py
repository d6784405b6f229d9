"""Text that ships with Python, as a character-level corpus: no hub, no download.

The default corpus is the English prose of Python's own help pages (``pydoc_data.topics``, about
0.46 M characters, always installed), split 90/10 into train and validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["pydoc_text", "CharCorpus"]


def pydoc_text() -> str:
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
    def from_pydoc(cls, **kw) -> CharCorpus:
        """The English prose of Python's help pages (``pydoc_data.topics``)."""
        return cls(pydoc_text(), **kw)

    @classmethod
    def from_hub(cls, name: str = "Salesforce/wikitext", config: str | None = "wikitext-103-raw-v1", *, split: str = "train",
                 text_column: str = "text", max_chars: int = 20_000_000, **kw) -> CharCorpus:
        """Any larger text dataset through 🤗 ``datasets`` (the ``hub`` extra), for readers whose machine
        reaches the Hugging Face hub; the first ``max_chars`` characters are used."""
        try:
            import datasets
        except ImportError as err:
            raise ImportError('CharCorpus.from_hub needs the `datasets` package: pip install -c constraints.txt -e ".[hub]"; '
                              "offline, use CharCorpus.from_pydoc()") from err
        try:
            data = datasets.load_dataset(name, config, split=split, streaming=True)
        except Exception as err:  # offline, unknown name, ...: say what to do
            raise ConnectionError(f"could not load {name!r} ({config}) from the Hugging Face hub: {err}. "
                                  "Offline, use CharCorpus.from_pydoc()") from err
        parts, size = [], 0
        for row in data:
            parts.append(row[text_column])
            size += len(parts[-1])
            if size >= max_chars:
                break
        return cls("".join(parts)[:max_chars], **kw)

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
