"""Plain helpers shared by every test folder (fixtures live in the conftest.py files, never here).

Importable as ``support`` from any test module: pyproject's ``[tool.pytest.ini_options] pythonpath`` puts
``tests/`` on ``sys.path``. Standard library only: ``pytest tests/engine`` must not import mkdocs or playwright.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SOURCE_DATE_EPOCH = "1767225600"  # 2026-01-01: fixed so that sitemap.xml is reproducible
# What the tests leave for a person to look at (page-weight table, screenshots): outside the tracked tree.
ARTIFACTS = Path(os.environ.get("GRADNOTES_TEST_ARTIFACTS") or ROOT / ".cache" / "test-artifacts")


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command from the repository root and capture its text output."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", **kwargs.pop("env", {})}
    return subprocess.run(cmd, cwd=kwargs.pop("cwd", ROOT), env=env, text=True, capture_output=True, **kwargs)


def mkdocs_build(
    site_dir: Path, env: dict[str, str] | None = None, config: Path | None = None
) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` into ``site_dir``: the real site, or the one whose ``mkdocs.yml`` is ``config``."""
    env = {"SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, **(env or {})}
    where = ["--config-file", str(config)] if config is not None else []
    return run([PYTHON, "-m", "mkdocs", "build", "--strict", *where, "--site-dir", str(site_dir)], env=env)
