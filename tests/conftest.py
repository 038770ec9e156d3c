"""Shared fixtures: an isolated cache, a scratch figures folder, and one strict build of the real site."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SOURCE_DATE_EPOCH = "1767225600"  # 2026-01-01: fixed so that sitemap.xml is reproducible


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command from the repository root and capture its text output."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", **kwargs.pop("env", {})}
    return subprocess.run(cmd, cwd=kwargs.pop("cwd", ROOT), env=env, text=True, capture_output=True, **kwargs)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """A fresh GRADNOTES_CACHE for one test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GRADNOTES_CACHE", str(cache))
    return cache


@pytest.fixture
def scratch_figures(tmp_path, monkeypatch) -> Path:
    """An empty GRADNOTES_FIGURES_DIR, for figures written by a test (broken ones included)."""
    folder = tmp_path / "figures"
    folder.mkdir()
    monkeypatch.setenv("GRADNOTES_FIGURES_DIR", str(folder))
    return folder


def mkdocs_build(site_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of the real site into ``site_dir``."""
    env = {"SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, **(env or {})}
    return run([PYTHON, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)], env=env)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> tuple[Path, str]:
    """The real site, built once per test session with the repository's cache (cold in CI)."""
    site = tmp_path_factory.mktemp("site")
    done = mkdocs_build(site)
    assert done.returncode == 0, done.stderr[-4000:]
    return site, done.stderr


@pytest.fixture(scope="session")
def site_pages(built_site) -> list[Path]:
    """Every HTML content page of the built site (both languages), without 404.html."""
    site, _ = built_site
    return sorted(p for p in site.rglob("index.html") if "assets" not in p.parts)


def copy_tree_for_serve(dest: Path) -> Path:
    """A copy of the project (sources only, node_modules linked) that a test may edit freely."""
    for name in ("docs", "docs_src", "figures", "gradnotes", "overrides"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("mkdocs.yml", "pyproject.toml"):
        shutil.copy2(ROOT / name, dest / name)
    (dest / "node_modules").symlink_to(ROOT / "node_modules")
    return dest
