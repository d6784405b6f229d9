"""The shortcut audit: what a reader of **words** — never of positions — scores on the same items.

A multiple-choice gain looks like a skill until something that cannot have the skill reaches it
too. Every heuristic here reads the words of an item's context, question and options (which option
words occur, how often, where they are first or last mentioned, which sentence shares words with
the question, which slot of the option list an option sits in) but never the *position* a question
asks about (a grid cell, a corner, a coordinate). If one of them answers a level, a model's
accuracy there is no evidence of spatial skill.

Scoring is exact, not sampled: a heuristic gives every option a score, and where several options
tie for the best, it earns ``1/k`` when the answer is among the ``k`` tied (the expected accuracy of
breaking the tie at random). A heuristic that sees nothing it can use therefore scores chance.

    >>> from scale_lib.data.spatial.graded import graded_items
    >>> table = audit(graded_items(["map_copy/2", "grid_cell_balanced/2"], 64))
    >>> best_by_level(table)          # map_copy/2 -> 1.0 (copy_stated), grid_cell_balanced/2 -> 0.25

An item is anything with ``context``, ``question``, ``options`` and ``answer_index`` (and ``level``
for the per-level table): :class:`scale_lib.data.spatial.graded.GradedItem` has them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Heuristic", "BATTERY", "HEURISTICS", "words", "sentences", "heuristic_accuracy", "score_item", "audit", "best_by_level",
           "answer_prior", "OPPOSITE_WORDS"]

_WORD = re.compile(r"[A-Za-z]+|\d+")
#: Words that carry no content for the sentence-overlap heuristics.
_STOP = frozenset("a an the of is in on at to from which what where who how many much this these that grid map animal animals "
                  "place places object objects direction question answer row column corner and or by with it its are be".split())
#: Opposites of the map's directions, for the one heuristic that encodes a spatial fact as a word substitution.
OPPOSITE_WORDS = {"northeast": "southwest", "southwest": "northeast", "northwest": "southeast", "southeast": "northwest",
                  "north": "south", "south": "north", "east": "west", "west": "east"}
_NEEDS = ("context", "question", "options", "answer_index")


def words(text: str) -> list[str]:
    """Lower-case word tokens of ``text`` (letters or digit runs)."""
    return [w.lower() for w in _WORD.findall(text)]


def sentences(text: str) -> list[str]:
    """The context split at full stops, question marks and line breaks (grid rows are one each)."""
    return [s for s in re.split(r"[.?!\n]+", text) if s.strip()]


def _check_item(item) -> None:
    missing = [a for a in _NEEDS if not hasattr(item, a)]
    if missing:
        raise TypeError(f"{type(item).__name__} has no {missing}: the shortcut audit reads items with {_NEEDS} "
                        f"(e.g. scale_lib.data.spatial.graded.GradedItem)")


def _counts(item) -> list[int]:
    ctx = words(item.context)
    return [ctx.count(o.lower()) for o in item.options]


def _first(item) -> list[float]:
    ctx = words(item.context)
    return [-float(ctx.index(o.lower())) if o.lower() in ctx else float("-inf") for o in item.options]


def _last(item) -> list[float]:
    ctx = words(item.context)
    return [float(len(ctx) - 1 - ctx[::-1].index(o.lower())) if o.lower() in ctx else float("-inf") for o in item.options]


def _question_sentence_words(item) -> list[set[str]]:
    """For each option, the largest overlap (content words) between the question and a context sentence that holds the option."""
    q = set(words(item.question)) - _STOP - {o.lower() for o in item.options}
    best = [set() for _ in item.options]
    for s in sentences(item.context):
        sw = set(words(s))
        overlap = (sw & q)
        for k, o in enumerate(item.options):
            if o.lower() in sw and len(overlap) > len(best[k]):
                best[k] = overlap
    return best


def _copy_stated(item) -> list[float]:
    return [float(len(s)) for s in _question_sentence_words(item)]


def _opposite_of_stated(item) -> list[float]:
    copy = dict(zip((o.lower() for o in item.options), _copy_stated(item)))
    return [copy.get(OPPOSITE_WORDS.get(o.lower(), ""), 0.0) for o in item.options]


def _directional(item) -> bool:
    return all(o.lower() in OPPOSITE_WORDS for o in item.options)


@dataclass(frozen=True)
class Heuristic:
    """A word-level answerer: ``score(item)`` gives one number per option; the highest wins (ties split)."""

    name: str
    description: str
    score: Callable[[object], Sequence[float]]
    applies: Callable[[object], bool] = lambda item: True

    def __call__(self, item) -> list[float]:
        _check_item(item)
        if not self.applies(item):
            raise ValueError(f"heuristic {self.name!r} cannot read item of level {getattr(item, 'level', '?')!r} "
                             f"(options {tuple(item.options)}): {self.description}")
        return [float(s) for s in self.score(item)]


def _slot(k: int) -> Heuristic:
    return Heuristic(f"slot_{k}", f"the option in slot {k} of the list, whatever it says",
                     lambda item: [1.0 if i == k else 0.0 for i in range(len(item.options))], lambda item: len(item.options) > k)


#: The battery, in the order the chapter prints it.
BATTERY: tuple[Heuristic, ...] = (
    Heuristic("present", "an option word that occurs in the context", lambda item: [float(c > 0) for c in _counts(item)]),
    Heuristic("absent", "an option word that does not occur in the context", lambda item: [float(c == 0) for c in _counts(item)]),
    Heuristic("most_frequent", "the option word that occurs most often in the context", lambda item: [float(c) for c in _counts(item)]),
    Heuristic("least_frequent", "the option word that occurs least often in the context (absent counts as 0)",
              lambda item: [-float(c) for c in _counts(item)]),
    Heuristic("least_frequent_present", "the rarest option word among those that occur in the context",
              lambda item: [-float(c) if c > 0 else float("-inf") for c in _counts(item)]),
    Heuristic("first_mentioned", "the option word mentioned first in the context", _first),
    Heuristic("last_mentioned", "the option word mentioned last in the context", _last),
    Heuristic("copy_stated", "the option word in the context sentence that shares the most content words with the question", _copy_stated),
    Heuristic("opposite_of_stated", "the opposite direction of copy_stated's word (directions only)", _opposite_of_stated, _directional),
    Heuristic("in_question", "an option word that occurs in the question",
              lambda item: [float(o.lower() in words(item.question)) for o in item.options]),
    Heuristic("alphabetical", "the option that comes first alphabetically",
              lambda item: [-float(sorted(o.lower() for o in item.options).index(o.lower())) for o in item.options]),
    Heuristic("shortest", "the shortest option word", lambda item: [-float(len(o)) for o in item.options]),
) + tuple(_slot(k) for k in range(4))
HEURISTICS = {h.name: h for h in BATTERY}


def answer_prior(train_items) -> Heuristic:
    """A heuristic fitted on training items: the option word that was most often the answer there."""

    items = list(train_items)
    if not items:
        raise ValueError("answer_prior needs at least one training item")
    for item in items:
        _check_item(item)
    freq = Counter(i.options[i.answer_index].lower() for i in items)
    return Heuristic("answer_prior", "the option that was most often the answer in the training items",
                     lambda item: [float(freq.get(o.lower(), 0)) for o in item.options])


def score_item(heuristic: Heuristic, item) -> float:
    """1/k if the answer is among the k options tied for the heuristic's best score, else 0."""
    scores = heuristic(item)
    top = max(scores)
    tied = [k for k, s in enumerate(scores) if s == top]
    return 1.0 / len(tied) if item.answer_index in tied else 0.0


def heuristic_accuracy(heuristic: Heuristic | str, items) -> float:
    """Expected accuracy (ties broken at random) of one heuristic on ``items``."""
    if isinstance(heuristic, str):
        if heuristic not in HEURISTICS:
            raise ValueError(f"unknown heuristic {heuristic!r}; valid heuristics are {list(HEURISTICS)}")
        heuristic = HEURISTICS[heuristic]
    items = list(items)
    if not items:
        raise ValueError("heuristic_accuracy needs at least one item")
    return sum(score_item(heuristic, i) for i in items) / len(items)


def audit(items, heuristics: Sequence[Heuristic] | None = None):
    """Every heuristic on every level: a DataFrame with one row per level (``level``, ``n``, ``chance``)
    and one column per heuristic (NaN where the heuristic cannot read the level's items), plus
    ``best`` (the highest accuracy) and ``best_heuristic``."""
    import pandas as pd

    items = list(items)
    if not items:
        raise ValueError("audit needs at least one item")
    for item in items:
        _check_item(item)
    heuristics = list(BATTERY if heuristics is None else heuristics)
    rows = []
    for level in dict.fromkeys(getattr(i, "level", "all") for i in items):
        these = [i for i in items if getattr(i, "level", "all") == level]
        row = {"level": level, "n": len(these), "chance": sum(1 / len(i.options) for i in these) / len(these)}
        for h in heuristics:
            row[h.name] = heuristic_accuracy(h, these) if all(h.applies(i) for i in these) else float("nan")
        rows.append(row)
    frame = pd.DataFrame(rows)
    names = [h.name for h in heuristics]
    frame["best"] = frame[names].max(axis=1)
    frame["best_heuristic"] = frame[names].idxmax(axis=1)
    return frame


def best_by_level(table) -> dict[str, float]:
    """``{level: the best heuristic's accuracy}`` from an :func:`audit` table."""
    return {str(r.level): float(r.best) for r in table.itertuples()}
