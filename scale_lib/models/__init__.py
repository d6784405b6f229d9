"""The concrete models the chapters use.

* :mod:`~scale_lib.models.testbed` — the tiny vision-language testbed, built from a config and trained here;
* :mod:`~scale_lib.models.smollm2` — SmolLM2-135M-Instruct, the real pretrained decoder (from its PyPI wheel);
* :mod:`~scale_lib.models.minilm` — all-MiniLM-L6-v2, a real pretrained encoder;
* :mod:`~scale_lib.models.hub_vlm` — hub vision-language models, for readers with a network and a GPU.
"""
