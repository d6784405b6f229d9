"""Self-checks for the notebooks' exercises.

* :func:`check` — a prediction or a number you computed, against the one the library computes (prints).
* ``test_*`` — a function you wrote, run on cases with known answers; raises ``AssertionError``
  with what went wrong (as ARENA's ``tests.test_*`` do), prints a confirmation when it passes.
"""

from __future__ import annotations

import copy
import math

import torch

__all__ = ["check", "test_cloze_choice", "test_fold_one_layer"]


def check(name: str, answer, expected, *, tol: float = 0.0, explanation: str = "") -> bool | None:
    """Print whether ``answer`` matches ``expected`` and return True/False (None if unanswered).

    Numbers match within ``tol`` (relative); strings case- and space-insensitively; anything else by ``==``.
    """
    if answer is None or answer is Ellipsis:
        print(f"[{name}] not answered yet: set the answer variable above and run this cell again.")
        return None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool) and isinstance(answer, (int, float)):
        ok = math.isclose(float(answer), float(expected), rel_tol=tol, abs_tol=tol if expected == 0 else 0.0)
    elif isinstance(expected, str) and isinstance(answer, str):
        ok = answer.strip().lower() == expected.strip().lower()
    else:
        ok = answer == expected
    mark = "correct" if ok else f"not quite: expected {expected!r}, you said {answer!r}"
    print(f"[{name}] {mark}" + (f"\n  why: {explanation}" if explanation else ""))
    return ok


def _run(name: str, fn, *args):
    try:
        return fn(*args)
    except NotImplementedError as err:
        raise AssertionError(f"[{name}] not written yet: replace the `raise NotImplementedError` with your code ({err})") from None
    except Exception as err:  # a crash in the student's code: say where it came from
        raise AssertionError(f"[{name}] your function raised {type(err).__name__}: {err}") from err


def test_cloze_choice(fn) -> None:
    """``fn(logits (N, V), option_ids (N, K), -1 = no option) -> (N,) option index``."""
    from .sweep import option_scores

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 50, generator=g)
    option_ids = torch.stack([torch.randperm(50, generator=g)[:4] for _ in range(64)])
    option_ids[::3, 3] = -1  # some rows have three options
    logits[::3, -1] = 100.0  # a huge logit for the last token: a pad read as index -1 would pick it
    got = _run("cloze_choice", fn, logits, option_ids)
    want = option_scores(logits, option_ids).argmax(-1)
    got = torch.as_tensor(got)
    assert got.shape == want.shape, f"[cloze_choice] expected one index per row, shape {tuple(want.shape)}; got shape {tuple(got.shape)}"
    wrong = (got != want).nonzero().flatten()
    if len(wrong):
        r = int(wrong[0])
        padded = bool((option_ids[r] < 0).any())
        hint = " (this row has a -1 padding slot: it must never be chosen)" if padded else ""
        raise AssertionError(f"[cloze_choice] row {r}: you chose option {int(got[r])}, the likeliest option is {int(want[r])}{hint}; "
                             f"{len(wrong)} of {len(want)} rows differ")
    print(f"[cloze_choice] correct on {len(want)} rows, padded ones included")


def test_fold_one_layer(fn, model, input_ids: torch.Tensor, layer: int = 0, *, atol: float = 1e-3) -> None:
    """``fn(model, layer)`` folds that layer's input-norm γ into q/k/v in place: same logits, γ = 1."""
    original = model(input_ids=input_ids).logits.detach()
    folded = copy.deepcopy(model)
    _run("fold_one_layer", fn, folded, layer)
    gamma = folded.model.layers[layer].input_layernorm.weight
    assert torch.allclose(gamma, torch.ones_like(gamma)), "[fold_one_layer] after folding, the norm's γ must be all ones"
    changed = not torch.equal(folded.model.layers[layer].self_attn.q_proj.weight, model.model.layers[layer].self_attn.q_proj.weight)
    assert changed, "[fold_one_layer] q_proj is unchanged: γ has to go into the weights that read the normalised vector"
    with torch.no_grad():
        diff = float((folded(input_ids=input_ids).logits - original).abs().max())
    assert diff < atol, (f"[fold_one_layer] the logits moved by up to {diff:.3g}: the fold changed the function. "
                         "Scale the *input* columns (W[:, j] *= γ[j]) of every projection that reads this norm")
    print(f"[fold_one_layer] logits unchanged (max |Δ| = {diff:.1e}) and γ = 1: the layer's γ lived in its q, k, v weights")
