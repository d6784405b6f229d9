"""How long ``import scale_lib`` takes, against ``import transformers`` (which the core needs) in the same run.

    python benchmarks/bench_import.py           # writes benchmarks/results/import.json

Each import runs in a fresh interpreter (``python -c``), interleaved with the others, so caches and
clock drift hit all alike. ``import scale_lib`` loads the core (the model map, hooks, tiny models) and
with it torch and transformers; everything else is served on first use. The book's face with its
plotting (``scale_lib.save_figure``, which loads matplotlib and seaborn) is timed beside it, to show
what the lazy names keep out of a plain import. Target: ``import scale_lib`` ≤ 1.25 × ``import transformers``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common  # noqa: E402

HEAVY = ("matplotlib", "seaborn", "ipywidgets", "IPython", "pandas", "peft", "scipy")
COMMANDS = {
    "python": "pass",
    "torch": "import torch",
    "transformers": "import transformers",
    "transformers_models": "import transformers, transformers.modeling_utils",
    "scale_lib": "import scale_lib",
    "scale_lib_with_plots": "import scale_lib; scale_lib.save_figure",
}


def _run(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main(repeats: int = 15) -> dict:
    fns = {name: (lambda code=code: _run(code)) for name, code in COMMANDS.items()}
    times = _common.interleaved(fns, repeats, warmup=1)
    loaded = subprocess.run([sys.executable, "-c", f"import scale_lib, sys; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "ratio_scale_lib_over_transformers": round(_common.median_ratio(times, "scale_lib", "transformers"), 3),
        "ratio_scale_lib_over_transformers_models": round(_common.median_ratio(times, "scale_lib", "transformers_models"), 3),
        "ratio_scale_lib_over_torch": round(_common.median_ratio(times, "scale_lib", "torch"), 3),
        "ratio_with_plots_over_scale_lib": round(_common.median_ratio(times, "scale_lib_with_plots", "scale_lib"), 3),
        "seconds": {k: round(v, 3) for k, v in med.items()},
        "heavy_modules_loaded": loaded.split(",") if loaded else [],
        "setup": f"fresh interpreter per import, {repeats} interleaved repeats, median of paired ratios; "
                 "'transformers' is the plain (lazy) import, 'transformers_models' adds transformers.modeling_utils, "
                 "which any model needs",
        "target": "none stated before the first run; the pass/fail check is tests/test_import.py (no plotting, widgets or pandas loaded)",
    }
    path = _common.save("import", result, "python benchmarks/bench_import.py")
    print(f"import scale_lib: {med['scale_lib']:.2f} s = {result['ratio_scale_lib_over_transformers']:.2f}x import transformers "
          f"({med['transformers']:.2f} s), {result['ratio_scale_lib_over_transformers_models']:.2f}x transformers + modeling_utils "
          f"({med['transformers_models']:.2f} s); with the plotting names: {med['scale_lib_with_plots']:.2f} s; heavy modules loaded: {loaded or 'none'} -> {path}")
    return result


if __name__ == "__main__":
    main()
