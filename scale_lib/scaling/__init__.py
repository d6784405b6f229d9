"""Half (a): ScAle — bounded scalars on the last token's attention heads and MLP outputs of a frozen model.

* :mod:`~scale_lib.scaling.adapter` — :class:`ScAle`, :class:`ScAleConfig`, :func:`train_scale`, save/load;
* :mod:`~scale_lib.scaling.sweep` — one-coefficient rescaling sweeps on one cached prefix;
* :mod:`~scale_lib.scaling.response` — how next-token distributions respond to one scale;
* :mod:`~scale_lib.scaling.baselines` — LoRA, IA³, linear probes, answer bias: the comparisons;
* :mod:`~scale_lib.scaling.adapt` — one call that trains any method and scores it on the same items;
* :mod:`~scale_lib.scaling.shortcuts` — what word counts, presence and copying reach on the same items;
* :mod:`~scale_lib.scaling.latent` — chapter 03's across-testbed study;
* :mod:`~scale_lib.scaling.real_study` — chapter 06's study on the real model;
* :mod:`~scale_lib.scaling.causal` / :mod:`~scale_lib.scaling.causal_study` — chapter 07's causal test.
"""
