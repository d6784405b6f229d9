"""``import scale_lib`` stays light: the core never loads the plotting, widget or table libraries."""

import subprocess
import sys

HEAVY = ("matplotlib", "seaborn", "ipywidgets", "IPython", "pandas")


def test_import_loads_no_plotting_widgets_or_pandas():
    code = f"import scale_lib, sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"import scale_lib loaded {out}"


def test_lazy_names_resolve_and_unknown_names_raise():
    import pytest

    import scale_lib as sl

    assert sl.ScAle.__name__ == "ScAle" and callable(sl.save_figure) and "explorer" in dir(sl)
    with pytest.raises(AttributeError, match="no attribute 'Scale'"):
        sl.Scale  # noqa: B018
