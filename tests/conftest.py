"""Fixtures every test folder may use: an isolated cache and a scratch figures folder (helpers: tests/support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


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
