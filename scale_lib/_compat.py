"""The flat module paths of scale_lib ≤ 0.1 (``scale_lib.scale``, ``scale_lib.norm_scale``, …), kept for one release.

``import scale_lib.scale`` (and ``python -m scale_lib.testbed``, the command recorded in every shipped
testbed checkpoint) still work: each old name resolves to the module that holds its code now, with a
``DeprecationWarning`` naming the new path. A module that was split (``scale``, ``lm``, ``real``, …)
answers for every name it used to hold, from wherever that name lives now.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

#: old flat module -> the modules that hold its names now (the first is its main successor)
OLD_PATHS: dict[str, tuple[str, ...]] = {
    "arch": ("core.arch",), "hooks": ("core.hooks",), "tiny": ("core.tiny",),
    "spatial": ("data.spatial",), "cloze": ("data.cloze", "core.stats"),
    "testbed": ("models.testbed",), "minilm": ("models.minilm",), "hub_vlm": ("models.hub_vlm",),
    "scale": ("scaling.adapter", "core.prefix", "core.schedules"),
    "adapt": ("scaling.adapt", "scaling.baselines"), "baselines": ("scaling.baselines",),
    "sweep": ("scaling.sweep", "core.scoring"), "explore": ("scaling.response",), "latent": ("scaling.latent", "core.stats"),
    "real_study": ("scaling.real_study",), "shortcuts": ("scaling.shortcuts",),
    "causal": ("scaling.causal", "core.stats"), "causal_study": ("scaling.causal_study",),
    "norm_scale": ("norms.gamma",), "lm": ("norms.pretrain", "data.corpus", "core.schedules"),
    "paired": ("norms.paired", "core.stats"), "toys": ("norms.toys",), "distributed_check": ("norms.distributed_check",),
    "real": ("norms.real_gamma", "models.smollm2", "scaling.real_study", "norms.gamma"),
    "plotting": ("book.plotting", "book.explorer"), "site": ("book.site",), "run_book": ("book.run_book",),
    "student": ("book.student",), "home": ("book.home",), "exercises": ("book.exercises",), "claims": ("book.claims",),
    "solutions": ("book.solutions",),
}


def _targets(fullname: str) -> tuple[str, ...] | None:
    if not fullname.startswith("scale_lib."):
        return None
    head, _, rest = fullname[len("scale_lib."):].partition(".")
    if head not in OLD_PATHS:
        return None
    if rest:  # a submodule of a moved package: scale_lib.spatial.graded -> scale_lib.data.spatial.graded
        return (f"{OLD_PATHS[head][0]}.{rest}",)
    return OLD_PATHS[head]


class _Alias(importlib.abc.Loader):
    def __init__(self, fullname: str, targets: tuple[str, ...]):
        self.fullname, self.targets = fullname, ["scale_lib." + t for t in targets]

    def create_module(self, spec):
        warnings.warn(f"{self.fullname} moved to {self.targets[0]}; the old path works for one release",
                      DeprecationWarning, stacklevel=3)
        main = importlib.import_module(self.targets[0])
        if len(self.targets) == 1:
            self._spec = main.__spec__  # the import system writes the alias spec on it; exec_module puts it back
            return main
        parts = [main] + [importlib.import_module(t) for t in self.targets[1:]]
        module = types.ModuleType(self.fullname, main.__doc__)

        def __getattr__(name):
            for part in parts:
                if hasattr(part, name):
                    return getattr(part, name)
            raise AttributeError(f"module {self.fullname!r} has no attribute {name!r} (its names now live in {self.targets})")

        module.__getattr__ = __getattr__
        return module

    def exec_module(self, module):
        if getattr(self, "_spec", None) is not None:
            module.__spec__ = self._spec

    def get_code(self, fullname):
        """For ``python -m <old path>``: run the new module as ``__main__``."""
        return compile(f"import runpy\nrunpy.run_module({self.targets[0]!r}, run_name='__main__', alter_sys=True)\n",
                       f"<{fullname} → {self.targets[0]}>", "exec")

    def is_package(self, fullname):
        return False


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        targets = _targets(fullname)
        if targets is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(fullname, targets))


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())  # first: a moved package's old submodule paths must not load a second copy
