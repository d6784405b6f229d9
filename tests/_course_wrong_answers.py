"""A plausible wrong answer to every problem-set exercise, for tests/test_course.py: the autograder
must give each of them less than full marks (the correct answer, otter's own solution notebook,
gets full marks). Keyed by problem set, then by the function or class the answer defines."""

WRONG = {
    "00_scaling_hooks": {
        # zeroes the head whatever the scale: passes a check run only at scale 0
        "head_prehook": '''
def head_prehook(head, scale, head_dim):
    def hook(module, args):
        x = args[0].clone()
        x[:, -1, head * head_dim:(head + 1) * head_dim] = 0.0
        return (x,) + tuple(args[1:])
    return hook
''',
        # the reversed direction, KL(scaled || unscaled)
        "last_token_kl": '''
def last_token_kl(model, input_ids, scales):
    with torch.no_grad():
        p = model(input_ids=input_ids).logits[:, -1].double().softmax(-1)
        with sl.scaled(model, scales):
            q = model(input_ids=input_ids).logits[:, -1].double().softmax(-1)
    return (q * (q.log() - p.log())).sum(-1)
''',
    },
    "01_spatial_benchmark": {
        # rows grow upwards: north and south swapped
        "direction_of": '''
def direction_of(a, b):
    (ra, ca), (rb, cb) = a, b
    if (ra, ca) == (rb, cb):
        raise ValueError("same point")
    ns = "North" if ra > rb else "South" if ra < rb else ""
    ew = "East" if ca > cb else "West" if ca < cb else ""
    return ns + ew.lower() if ns and ew else ns or ew
''',
        # ties broken by taking the first tied option (no 1/k)
        "answer_prior_accuracy": '''
def answer_prior_accuracy(train_items, test_items):
    from collections import Counter

    freq = Counter(i.options[i.answer_index].lower() for i in train_items)
    hits = 0
    for item in test_items:
        counts = [freq.get(o.lower(), 0) for o in item.options]
        hits += counts.index(max(counts)) == item.answer_index
    return hits / len(test_items)
''',
    },
    "02_rescaling_discovery": {
        # the Wald interval, clipped: what the exact interval replaces
        "exact_interval": '''
def exact_interval(k, n, level=0.95):
    p = k / n
    half = 1.959964 * math.sqrt(p * (1 - p) / n)
    return (max(0.0, p - half), min(1.0, p + half))
''',
        # an unpaired test: the two accuracies as if they came from different items
        "paired_p_value": '''
def paired_p_value(right_a, right_b):
    from scipy.stats import fisher_exact

    a, b = torch.as_tensor(right_a), torch.as_tensor(right_b)
    table = [[int(a.sum()), int(len(a) - a.sum())], [int(b.sum()), int(len(b) - b.sum())]]
    return float(fisher_exact(table)[1])
''',
    },
    "03_scale_spatial": {
        # sigmoid' written in c but without the chain rule's (hi - lo) factor
        "dc_dtheta": '''
def dc_dtheta(c, lo, hi):
    return (c - lo) * (hi - c) / (hi - lo) ** 2
''',
        # position -1: the padding, not the last real token
        "scale_last_real_token": '''
def scale_last_real_token(h, coeff, lengths):
    out = h.clone()
    out[:, -1] = h[:, -1] * coeff
    return out
''',
    },
    "04_theory_toys": {
        # only W moves: the elementwise term, without u's row term and v's column term
        "dp_velocity": '''
def dp_velocity(u, W, v, G):
    return -(u[:, None] ** 2) * (v[None, :] ** 2) * G
''',
        # 2 / θ* instead of 2 / (γ² + w²): right only when γ = w = 1
        "stable_lr": '''
def stable_lr(gamma, w):
    return 2.0 / (2 * gamma * w)
''',
    },
    "05_norm_scale_vectors": {
        # forgets the final norm
        "count_gamma": '''
def count_gamma(config):
    return 2 * config.num_hidden_layers * config.hidden_size
''',
        # sets γ to 1 everywhere: wrong for Gemma's stored (1 + w)
        "remove_gamma": '''
def remove_gamma(model):
    from scale_lib.norms.anatomy import classify_norms

    n = 0
    for info in classify_norms(model):
        norm = model.get_submodule(info.name)
        with torch.no_grad():
            norm.weight.fill_(1.0)
        norm.weight.requires_grad_(False)
        n += norm.weight.numel()
    return n
''',
    },
    "06_real_model": {
        # gathers at -1 for padding: the pad reads the last vocabulary token
        "cloze_choice": '''
def cloze_choice(logits, option_ids):
    return logits[torch.arange(len(logits))[:, None], option_ids].argmax(-1)
''',
        # resamples a and b independently: the pairing is lost, the interval too wide
        "paired_bootstrap": '''
def paired_bootstrap(right_a, right_b, n_boot=2000, seed=0):
    a, b = torch.as_tensor(right_a).double(), torch.as_tensor(right_b).double()
    g = torch.Generator().manual_seed(seed)
    ia = torch.randint(0, len(a), (n_boot, len(a)), generator=g)
    ib = torch.randint(0, len(b), (n_boot, len(b)), generator=g)
    diffs = b[ib].mean(1) - a[ia].mean(1)
    return float(torch.quantile(diffs, 0.025)), float(torch.quantile(diffs, 0.975))
''',
    },
    "07_causal": {
        # divides by what remained instead of by what was lost
        "recovery": '''
def recovery(before, damaged, after):
    return (after - damaged) / damaged if damaged else float("nan")
''',
        # scales o_proj's rows (its outputs) instead of its columns (its inputs)
        "bake_damping": '''
def bake_damping(model, heads, factor):
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    with torch.no_grad():
        for layer, head in heads:
            w = model.model.layers[layer].self_attn.o_proj.weight
            w[head * head_dim:(head + 1) * head_dim, :] *= factor
    return model
''',
    },
}
