"""Half (b): scale vectors — the learnable γ of RMSNorm/LayerNorm.

* :mod:`~scale_lib.norms.gamma` — γ's forms, Input- vs Output-Norms, folding, resetting, weight-decay groups;
* :mod:`~scale_lib.norms.pretrain` — character language models and the pre-training loop;
* :mod:`~scale_lib.norms.paired` — paired runs over seeds and their gaps with intervals;
* :mod:`~scale_lib.norms.toys` — the preconditioning toys of chapter 04;
* :mod:`~scale_lib.norms.real_gamma` — γ on real pretrained weights;
* :mod:`~scale_lib.norms.distributed_check` — the same pre-training on two processes.
"""
