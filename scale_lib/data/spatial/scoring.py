"""Scoring: a strict option-letter scorer (the book's choice) and the original benchmark's lenient
free-text extraction (for generated answers of real models).
"""

from __future__ import annotations

import re

from .items import LETTERS, SpatialItem

__all__ = ["strict_letter", "score_strict", "lenient_choice", "score_lenient", "exact_answer", "score_exact", "majority_rate"]

_NUMBER_WORDS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
_STRICT = re.compile(r"^\s*(?:the\s+)?(?:answer|option)?\s*(?:is)?\s*[:\-]?\s*\(?([A-Za-z])\)?(?=\s*$|[.,:;)!])", re.IGNORECASE)


def strict_letter(response: str, n_options: int = 4) -> str | None:
    """The option letter a response commits to, or ``None``.

    Accepted: the letter alone, or first and followed by punctuation ("B", "b", "(B)",
    "B. Northeast", "Answer: B", "The answer is b."). Anything else has no letter — "a cat" is not
    option A, and "I think B" is not strict.
    """
    if not isinstance(response, str):
        raise TypeError(f"a response must be a str, got {type(response).__name__}")
    m = _STRICT.match(response)
    if not m:
        return None
    letter = m.group(1).upper()
    return letter if letter in LETTERS[:n_options] else None


def score_strict(response: str, item: SpatialItem) -> bool:
    """True iff the response's strict letter is the item's answer letter."""
    return strict_letter(response, len(item.options)) == item.answer_letter


def lenient_choice(response: str, item: SpatialItem) -> int | None:
    """Index of the option a free-text answer names, as SpatialEval's own scripts would read it.

    In order: a strict letter; the one option whose text appears as a word in the response; for
    numeric options the first number (digits or a word up to ten); for Yes/No the first yes/no.
    ``None`` when nothing or more than one option matches.
    """
    letter = strict_letter(response, len(item.options))
    if letter is not None:
        return LETTERS.index(letter)
    text = response.lower()
    if {o.lower() for o in item.options} == {"yes", "no"}:
        m = re.search(r"\b(yes|no)\b", text)
        return [o.lower() for o in item.options].index(m.group(1)) if m else None
    if all(o.isdigit() for o in item.options):
        m = re.search(r"\b(\d+|" + "|".join(_NUMBER_WORDS) + r")\b", text)
        if not m:
            return None
        value = _NUMBER_WORDS.get(m.group(1), m.group(1))
        return item.options.index(value) if value in item.options else None
    hits = [i for i, o in enumerate(item.options) if re.search(r"\b" + re.escape(o.lower()) + r"\b", text)]
    return hits[0] if len(hits) == 1 else None


def score_lenient(response: str, item: SpatialItem) -> bool:
    return lenient_choice(response, item) == item.answer_index


def exact_answer(response: str) -> str:
    """The concise answer of a free-text response, normalised for exact matching: its first
    sentence (or line), lower-cased, without a leading "Answer:" / "The answer is" and without a
    leading option letter ("B. cat" -> "cat") or trailing punctuation."""
    if not isinstance(response, str):
        raise TypeError(f"a response must be a str, got {type(response).__name__}")
    first = re.split(r"(?<=[.!?])\s+|\n", response.strip(), maxsplit=1)[0]
    text = re.sub(r"^\s*(?:the\s+)?(?:final\s+)?answer\s*(?:is)?\s*[:\-]?\s*", "", first, flags=re.IGNORECASE)
    text = re.sub(r"^\(?[A-Da-d][.)]\s+", "", text)
    return text.strip().strip(".!?,;:\"'").strip().lower()


def score_exact(response: str, item: SpatialItem) -> bool:
    """SpatialEval's way for real models' free text (:meth:`SpatialItem.prompt` with ``style="spatialeval"``):
    exact match of the concise answer (:func:`exact_answer`) with the answer's text, or with its
    option letter alone."""
    answer = exact_answer(response)
    return answer == item.answer.lower() or answer == item.answer_letter.lower()


def majority_rate(items) -> float:
    """Accuracy of always giving the most common answer text: what a blind guesser scores on these items."""
    from collections import Counter

    items = list(items)
    if not items:
        raise ValueError("majority_rate needs at least one item")
    return Counter(i.answer for i in items).most_common(1)[0][1] / len(items)
