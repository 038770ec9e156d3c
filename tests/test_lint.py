"""ruff over the whole tree (unused imports, undefined names and the like), and the test tree's own layering: the
engine's tests load neither mkdocs nor a browser."""

from __future__ import annotations

import shutil

import pytest
from support import PYTHON, ROOT, run

# Collect tests/engine in a fresh interpreter (conftest files and test modules imported, nothing run) and list what
# of the site's stack got imported on the way.
ENGINE_ALONE = """
import sys
import pytest
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "tests/engine"])
site_stack = ("mkdocs", "material", "mkdocs_jupyter", "mkdocs_static_i18n", "playwright", "axe_playwright_python")
print("LOADED", sorted(m for m in sys.modules if m.split(".")[0] in site_stack))
sys.exit(int(code))
"""


def test_ruff_check_is_clean():
    ruff = ROOT / ".venv" / "bin" / "ruff"
    exe = str(ruff) if ruff.exists() else shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff is not installed (scripts/install --test installs it)")
    done = run([exe, "check", "--no-cache", "."])
    assert done.returncode == 0, done.stdout[-3000:]


def test_engine_tests_load_neither_mkdocs_nor_playwright():
    done = run([PYTHON, "-c", ENGINE_ALONE])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "LOADED []" in done.stdout.splitlines()[-1], done.stdout.splitlines()[-1]
    assert " tests collected" in done.stdout or " test collected" in done.stdout, done.stdout[-500:]
