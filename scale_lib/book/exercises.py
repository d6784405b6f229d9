"""Self-checks for the notebooks' exercises.

* :func:`predict` then :func:`reveal` — predict-then-measure: the prediction is recorded in one cell
  **before** the cell that measures it runs, and compared with the measurement after (a prediction
  changed after the reveal is refused, so it stays a prediction).
* :func:`check` — a number you computed, against the one the library computes (prints).
* ``test_*`` — a function you wrote, run on cases with known answers; raises ``AssertionError``
  with what went wrong (as ARENA's ``tests.test_*`` do), prints a confirmation when it passes.
"""

from __future__ import annotations

import copy
import math
import os

import torch

__all__ = ["check", "predict", "reveal", "student_mode", "STUDENT", "test_head_prehook", "test_kl_divergence", "test_diagonal_direction", "test_count_turns", "test_wilson_interval",
           "test_site_sweep", "test_bounded_scale", "test_cached_step", "test_theta_velocity", "test_balancedness", "test_fold_mlp_norm",
           "test_iwd_groups", "test_cloze_choice", "test_fold_one_layer", "test_share_from_seeds"]


# The student edition (``make student``) turns this on in every notebook's first code cell: then
# :func:`check` says only whether an answer is right, never what the right one is, and prints no
# explanation (which would give it away); :func:`reveal` still prints the measurement, which the
# notebook's own output shows anyway.
STUDENT = os.environ.get("SCALE_LIB_STUDENT", "") == "1"

_PREDICTIONS: dict[str, object] = {}
_REVEALED: set[str] = set()


def student_mode(on: bool = True) -> None:
    """Switch the student edition's behaviour on (or off): :func:`check` reveals no expected answer."""
    global STUDENT
    STUDENT = bool(on)


def _matches(answer, expected, tol: float) -> bool:
    if isinstance(expected, (int, float)) and not isinstance(expected, bool) and isinstance(answer, (int, float)) and not isinstance(answer, bool):
        return math.isclose(float(answer), float(expected), rel_tol=tol, abs_tol=tol if expected == 0 else 0.0)
    if isinstance(expected, str) and isinstance(answer, str):
        return answer.strip().lower() == expected.strip().lower()
    return answer == expected


def check(name: str, answer, expected, *, tol: float = 0.0, explanation: str = "") -> bool | None:
    """Print whether ``answer`` matches ``expected`` and return True/False (None if unanswered).

    Numbers match within ``tol`` (relative); strings case- and space-insensitively; anything else by ``==``.
    In the student edition (:data:`STUDENT`) a wrong answer is reported without the expected one.
    """
    if answer is None or answer is Ellipsis:
        print(f"[{name}] not answered yet: set the answer variable above and run this cell again.")
        return None
    ok = _matches(answer, expected, tol)
    if STUDENT:
        print(f"[{name}] " + ("correct" if ok else f"not yet: {answer!r} is not the answer; look again and re-run"))
        return ok
    mark = "correct" if ok else f"not quite: expected {expected!r}, you said {answer!r}"
    print(f"[{name}] {mark}" + (f"\n  why: {explanation}" if explanation else ""))
    return ok


def predict(name: str, answer) -> object | None:
    """Record a prediction **before** running the cell that measures it; returns it (None if unanswered).

    A prediction cannot be changed once :func:`reveal` has shown the measurement: re-running this cell
    after the reveal keeps the first prediction (restart the kernel to start the exercise afresh).
    """
    if answer is None or answer is Ellipsis:
        print(f"[{name}] no prediction yet: set the prediction variable above and run this cell again, before the next one.")
        return None
    if name in _REVEALED and _PREDICTIONS.get(name) != answer:
        print(f"[{name}] the measurement has been shown already: your first prediction, {_PREDICTIONS[name]!r}, is kept "
              "(a prediction made after seeing the result is not a prediction).")
        return _PREDICTIONS[name]
    _PREDICTIONS[name] = answer
    print(f"[{name}] prediction recorded: {answer!r}. Now run the next cell, which measures it.")
    return answer


def reveal(name: str, measured, *, tol: float = 0.0, explanation: str = "") -> bool | None:
    """Compare the prediction recorded by :func:`predict` with ``measured``; print both and return True/False.

    Returns None (and compares nothing) when no prediction was recorded first.
    """
    if name not in _PREDICTIONS:
        print(f"[{name}] no prediction recorded: run the prediction cell above first. This cell measures {name!r}; "
              "its output would give the answer away, so predict before you look.")
        return None
    _REVEALED.add(name)
    guess = _PREDICTIONS[name]
    ok = _matches(guess, measured, tol)
    shown = f"{measured:.4g}" if isinstance(measured, float) else repr(measured)
    print(f"[{name}] you predicted {guess!r}; measured {shown}: " + ("right" if ok else "not this time")
          + (f"\n  why: {explanation}" if explanation else ""))
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
    from scale_lib.core.scoring import option_scores

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


def _close(name: str, got, want, *, atol: float, what: str) -> None:
    got, want = torch.as_tensor(got).detach(), torch.as_tensor(want).detach()
    assert got.shape == want.shape, f"[{name}] {what}: expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
    diff = float((got.double() - want.double()).abs().max()) if want.numel() else 0.0
    assert diff <= atol, f"[{name}] {what}: off by up to {diff:.3g} (allowed {atol:g})"


# ------------------------------------------------------------------------------------------- chapter 00
def test_head_prehook(make_hook, model, input_ids: torch.Tensor, *, layer: int = 0, head: int = 1, scale: float = 0.0) -> None:
    """``make_hook(head, scale, head_dim)`` returns a forward pre-hook for ``o_proj``; registered on layer
    ``layer`` it must give exactly the logits of ``sl.scaled(model, {"L{layer}.H{head}": scale})``."""
    from scale_lib.core.arch import model_map
    from scale_lib.core.hooks import scaled

    mm = model_map(model)
    hook = _run("head_prehook", make_hook, head, scale, mm.head_dim)
    with torch.no_grad():
        plain = model(input_ids=input_ids).logits
        with scaled(model, {f"L{layer}.H{head}": scale}):
            want = model(input_ids=input_ids).logits
        handle = mm.attn_out(layer).register_forward_pre_hook(hook)
        try:
            got = model(input_ids=input_ids).logits
        finally:
            handle.remove()  # never leave a hook behind, even when your hook raised
    assert not torch.equal(got[:, -1], plain[:, -1]) or scale == 1.0, "[head_prehook] the last position did not change: is the hook scaling anything?"
    _close("head_prehook", got[:, :-1], want[:, :-1], atol=1e-6, what="earlier positions must stay as they were")
    _close("head_prehook", got[:, -1], want[:, -1], atol=1e-5, what=f"the last position must match sl.scaled's L{layer}.H{head} × {scale:g}")
    print(f"[head_prehook] your hook gives sl.scaled's logits for L{layer}.H{head} × {scale:g} (and leaves earlier positions alone)")


def test_kl_divergence(fn) -> None:
    """``fn(p, q)``: KL(p ‖ q) over the last dimension, with 0 · log 0 = 0."""
    from scale_lib.scaling.response import kl_divergence

    g = torch.Generator().manual_seed(0)
    p = torch.rand(6, 10, generator=g).softmax(-1)
    q = torch.rand(6, 10, generator=g).softmax(-1)
    p[0] = torch.tensor([0.5, 0.5] + [0.0] * 8)  # zeros in p must contribute nothing (not NaN)
    got = torch.as_tensor(_run("kl_divergence", fn, p, q))
    assert torch.isfinite(got).all(), "[kl_divergence] NaN or inf: treat p·log p as 0 where p = 0"
    _close("kl_divergence", got, kl_divergence(p, q), atol=1e-5, what="KL(p ‖ q) per row")
    assert float(torch.as_tensor(fn(p, p)).abs().max()) < 1e-6, "[kl_divergence] KL(p ‖ p) must be 0"
    print("[kl_divergence] correct, zeros included; note KL(p ‖ q) ≠ KL(q ‖ p) in general")


# ------------------------------------------------------------------------------------------- chapter 01
def test_diagonal_direction(fn) -> None:
    """``fn(a, b)``: the diagonal direction ('Northeast', …) of point a = (row, col) relative to b."""
    from scale_lib.data.spatial.generate import direction_of

    cases = [((0, 3), (2, 1)), ((4, 0), (1, 2)), ((1, 1), (3, 4)), ((5, 5), (0, 0))]
    for a, b in cases:
        got, want = _run("diagonal_direction", fn, a, b), direction_of(a, b)
        assert got == want, f"[diagonal_direction] {a} relative to {b}: expected {want!r}, got {got!r} (rows grow downwards: row 0 is the north edge)"
    print(f"[diagonal_direction] correct on {len(cases)} pairs")


def test_count_turns(fn) -> None:
    """``fn(path) -> (right turns, all turns)`` for a path of (row, col) cells."""
    from scale_lib.data.spatial.generate import path_turns

    paths = [[(1, 1), (1, 2), (2, 2), (2, 3)], [(1, 1), (2, 1), (3, 1)], [(3, 3), (3, 2), (2, 2), (2, 1), (1, 1), (1, 2)],
             [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3), (3, 2)]]
    for path in paths:
        right, left = path_turns(path)
        got = tuple(_run("count_turns", fn, path))
        assert got == (right, right + left), (f"[count_turns] path {path}: expected {(right, right + left)} (right, all), got {got}. "
                                              "Heading east (0, +1), a right turn heads south (+1, 0): rows grow downwards")
    print(f"[count_turns] correct on {len(paths)} paths, straight ones included")


# ------------------------------------------------------------------------------------------- chapter 02
def test_wilson_interval(fn) -> None:
    """``fn(k, n) -> (low, high)``: the 95 % Wilson score interval."""
    from scale_lib.core.stats import wilson

    for k, n in ((50, 100), (0, 20), (20, 20), (3, 7), (180, 250)):
        got = tuple(_run("wilson_interval", fn, k, n))
        want = wilson(k, n)
        assert all(abs(a - b) < 1e-4 for a, b in zip(got, want)), f"[wilson_interval] k={k}, n={n}: expected {tuple(round(x, 4) for x in want)}, got {got}"
    print("[wilson_interval] correct, including 0 and n successes (where p ± 1.96·SE would fail)")


def test_site_sweep(fn, cache, labels, site: str = "L0.mlp", scales=(0.0, 0.5, 2.0)) -> None:
    """``fn(cache, labels, site, scales) -> {scale: accuracy}`` must match :func:`scale_lib.scaling.sweep.rescaling_sweep`."""
    got = _run("site_sweep", fn, cache, labels, site, scales)
    for s in scales:
        want = float((cache.predictions({site: s}) == labels).float().mean())
        assert abs(float(got[float(s)]) - want) < 1e-9, f"[site_sweep] {site} × {s:g}: expected accuracy {want:.4f}, got {got[float(s)]}"
    print(f"[site_sweep] {site} at {list(scales)}: correct, one token per prompt and setting")


# ------------------------------------------------------------------------------------------- chapter 03
def test_bounded_scale(cls) -> None:
    """``cls(n, lo, hi)``: an ``nn.Module`` whose ``forward()`` returns ``lo + (hi − lo)·σ(θ)``, exactly 1 at init."""
    for lo, hi in ((0.0, 2.0), (0.5, 1.5), (0.0, 4.0)):
        m = _run("BoundedScale", cls, 5, lo, hi)
        s = m()
        _close("BoundedScale", s, torch.ones(5), atol=1e-6, what=f"at initialisation (bound {lo}–{hi}) every coefficient must be 1")
        params = list(m.parameters())
        assert params and sum(p.numel() for p in params) == 5, f"[BoundedScale] expected 5 trainable numbers, got {sum(p.numel() for p in params)}"
        with torch.no_grad():
            for p in params:
                p.copy_(torch.tensor([-50.0, -1.0, 0.0, 1.0, 50.0]))
        s = m()
        assert float(s.detach().min()) >= lo - 1e-6 and float(s.detach().max()) <= hi + 1e-6, f"[BoundedScale] values {s.detach().tolist()} leave the bound {lo}–{hi}"
        s.sum().backward()
        assert all(p.grad is not None for p in params), "[BoundedScale] no gradient reached θ"
    print("[BoundedScale] identity at init, bounded, differentiable")


def test_cached_step(fn, adapter, inputs: dict, labels: torch.Tensor) -> None:
    """``fn(adapter, inputs, labels)``: loss at the last position through a prefix cache, backward; logits and
    θ-gradients must equal the plain full-sequence step's."""
    from scale_lib.scaling.adapter import scale_step

    saved = [p.detach().clone() for p in adapter.parameters()]
    with torch.no_grad():  # a non-trivial θ, so that a prefix wrongly built under the hooks shows
        for p in adapter.parameters():
            p.copy_(torch.linspace(-1.5, 1.5, p.numel()).view_as(p))
    plain = scale_step(adapter, inputs, labels)
    g_plain = [p.grad.clone() for p in adapter.parameters()]
    adapter.zero_grad(set_to_none=True)
    try:
        got = _run("cached_step", fn, adapter, inputs, labels)
        _close("cached_step", got, plain, atol=1e-4, what="last-position logits (is the prefix built *outside* adapter.applied()?)")
        for a, p in zip(g_plain, adapter.parameters()):
            assert p.grad is not None, "[cached_step] no gradient reached the coefficients: call .backward() on the loss"
            _close("cached_step", p.grad, a, atol=1e-4, what="gradients to θ")
    finally:
        adapter.zero_grad(set_to_none=True)
        with torch.no_grad():  # give the adapter back as it came
            for p, old in zip(adapter.parameters(), saved):
                p.copy_(old)
    print("[cached_step] same logits and gradients as the full prompt, at the cost of one token per row")


# ------------------------------------------------------------------------------------------- chapter 04
def test_theta_velocity(fn) -> None:
    """``fn(gamma (in,), weight (out, in), grad_theta (out, in))``: dθ/dt of θ = W diag γ under gradient flow on (γ, W)."""
    from scale_lib.norms.toys import autograd_velocity

    g = torch.Generator().manual_seed(0)
    gamma, weight, target = torch.rand(4, generator=g, dtype=torch.float64) + 0.5, torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(3, 4, generator=g, dtype=torch.float64)
    want, grad_theta = autograd_velocity(gamma, weight, lambda th: 0.5 * ((th - target) ** 2).sum() + (th**3).sum() / 3)
    got = _run("theta_velocity", fn, gamma, weight, grad_theta)
    _close("theta_velocity", got, want, atol=1e-10, what="dθ/dt against autograd (cmp-style: exact up to rounding)")
    print("[theta_velocity] matches autograd to 1e-10: column j moves by −(γ_j² I + w_j w_jᵀ) g_j")


def test_balancedness(fn) -> None:
    """``fn(gamma, weight)``: the per-column quantity that gradient flow on θ = W diag γ conserves."""

    g = torch.Generator().manual_seed(1)
    gamma, weight, target = torch.rand(3, generator=g, dtype=torch.float64) + 0.5, torch.randn(2, 3, generator=g, dtype=torch.float64), torch.randn(2, 3, generator=g, dtype=torch.float64)
    loss = lambda th: 0.5 * ((th - target) ** 2).sum()  # noqa: E731
    start = torch.as_tensor(_run("balancedness", fn, gamma, weight))
    for _ in range(2000):  # small explicit Euler steps of the gradient flow on (γ, W)
        gg, ww = gamma.clone().requires_grad_(True), weight.clone().requires_grad_(True)
        dg, dw = torch.autograd.grad(loss(ww * gg), (gg, ww))
        gamma, weight = gamma - 1e-4 * dg, weight - 1e-4 * dw
    moved = float((torch.as_tensor(fn(gamma, weight)) - start).abs().max())
    assert start.shape == (3,), f"[balancedness] one number per column expected, shape (3,); got {tuple(start.shape)}"
    assert moved < 1e-4, f"[balancedness] your quantity changed by {moved:.2g} along the flow: it is not conserved"
    assert float(start.abs().max()) > 1e-3, "[balancedness] a constant is trivially conserved: find the one that depends on γ and W"
    print(f"[balancedness] conserved along the flow (changed by {moved:.1e}): γ_j² − ‖w_j‖²")


# ------------------------------------------------------------------------------------------- chapter 05
def test_fold_mlp_norm(fn, model, input_ids: torch.Tensor, layer: int = 0) -> None:
    """``fn(model, layer)`` folds the pre-MLP norm's γ into the MLP's input projections in place: same logits, γ = 1."""
    original = model(input_ids=input_ids).logits.detach()
    folded = copy.deepcopy(model)
    _run("fold_mlp_norm", fn, folded, layer)
    gamma = folded.model.layers[layer].post_attention_layernorm.weight
    assert torch.allclose(gamma, torch.ones_like(gamma)), "[fold_mlp_norm] after folding, the norm's γ must be all ones"
    with torch.no_grad():
        diff = float((folded(input_ids=input_ids).logits - original).abs().max())
    assert diff < 1e-4, (f"[fold_mlp_norm] the logits moved by up to {diff:.3g}. Llama's `post_attention_layernorm` is the norm *before the MLP*: "
                         "which two projections read its output?")
    print(f"[fold_mlp_norm] logits unchanged (max |Δ| = {diff:.1e}): γ now lives in gate_proj and up_proj")


def test_iwd_groups(fn, model, weight_decay: float = 0.1) -> None:
    """``fn(model, weight_decay)`` returns AdamW groups: the decayed parameters must be exactly those of the IWD rule."""
    from scale_lib.norms.gamma import param_groups

    want = {id(p) for grp in param_groups(model, weight_decay, "iwd") if grp["weight_decay"] > 0 for p in grp["params"]}
    groups = _run("iwd_groups", fn, model, weight_decay)
    got = {id(p) for grp in groups if grp.get("weight_decay", 0) > 0 for p in grp["params"]}
    names = {id(p): n for n, p in model.named_parameters()}
    extra, missing = sorted(names[i] for i in got - want), sorted(names[i] for i in want - got)
    assert not extra and not missing, f"[iwd_groups] decayed but should not be: {extra[:4]}; should be decayed: {missing[:4]}"
    print(f"[iwd_groups] correct: {len(got)} tensors decay (matrices and Input-Norm γ), the final Output-Norm γ and the embeddings do not")


# ------------------------------------------------------------------------------------------- chapter 07
def test_share_from_seeds(fn) -> None:
    """``fn(shares, losses) -> float``: Σ gain / Σ loss from each seed's share (gain / loss) and loss."""
    from scale_lib.core.stats import ratio_of_sums

    cases = (([0.5, 0.5], [0.2, 0.4]), ([1.0, 0.0], [0.1, 0.3]), ([0.2, 0.9, -0.1], [0.15, 0.35, 0.25]))
    for shares, losses in cases:
        want = ratio_of_sums([s * l for s, l in zip(shares, losses)], losses, n_boot=1)["share"]
        got = float(_run("share_from_seeds", fn, list(shares), list(losses)))
        if abs(got - sum(shares) / len(shares)) < 1e-9 and abs(got - want) > 1e-9:
            raise AssertionError(f"[share_from_seeds] shares {shares}, losses {losses}: you returned the plain mean of the shares ({got:.4f}); "
                                 f"the ratio of sums weighs each seed by its loss ({want:.4f})")
        assert abs(got - want) < 1e-9, f"[share_from_seeds] shares {shares}, losses {losses}: expected {want:.4f}, got {got:.4f}"
    print("[share_from_seeds] correct: the ratio of sums is the loss-weighted mean of the shares")
