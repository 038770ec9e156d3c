"""gradnotes: simulate vanishing and exploding gradients with torch, and draw what happens.

The public Python API (imported lazily, so that ``import gradnotes`` costs nothing):

* ``Spec``, ``run``, ``run_many``, ``Result`` — simulate networks at initialisation (``gradnotes.engine``);
* ``cached``, ``cached_many`` — the same through the content-addressed result cache;
* ``predict``, ``Prediction`` — mean-field theory for the same specs;
* ``Report``, ``Thresholds`` — per-layer diagnosis of your own model: ``from gradnotes.diagnose import diagnose``
  (``gradnotes.diagnose`` is that subpackage, so the function is not re-exported here under the same name).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module; gradnotes.keys reads this table from the AST to resolve "from gradnotes import X" in content keys
_API = {
    "Spec": "gradnotes.engine.spec",
    "run": "gradnotes.engine.sim",
    "run_many": "gradnotes.engine.sim",
    "Result": "gradnotes.engine.sim",
    "cached": "gradnotes.engine.cache",
    "cached_many": "gradnotes.engine.cache",
    "predict": "gradnotes.engine.theory",
    "Prediction": "gradnotes.engine.theory",
    "Report": "gradnotes.diagnose.report",
    "Thresholds": "gradnotes.diagnose.rules",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'gradnotes' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
