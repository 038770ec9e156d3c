"""ruff over the whole tree: unused imports, undefined names and the like fail the suite."""

from __future__ import annotations

import shutil

import pytest
from support import ROOT, run


def test_ruff_check_is_clean():
    ruff = ROOT / ".venv" / "bin" / "ruff"
    exe = str(ruff) if ruff.exists() else shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff is not installed (scripts/install --test installs it)")
    done = run([exe, "check", "--no-cache", "."])
    assert done.returncode == 0, done.stdout[-3000:]
