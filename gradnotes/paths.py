"""Where things live: the repository's figures/ and the content-addressed cache outside docs/."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = ROOT / "docs"


def figures_dir() -> Path:
    """The figure sources, ``<repo>/figures``; GRADNOTES_FIGURES_DIR overrides (tests use a scratch folder)."""
    env = os.environ.get("GRADNOTES_FIGURES_DIR")
    return Path(env).resolve() if env else ROOT / "figures"


def cache_dir() -> Path:
    """Root of every cache (results, figure data, SVGs); GRADNOTES_CACHE overrides ``<repo>/.cache/gradnotes``."""
    env = os.environ.get("GRADNOTES_CACHE")
    return Path(env).resolve() if env else ROOT / ".cache" / "gradnotes"


def published_figures_dir() -> Path:
    """The SVGs the MkDocs hook registers: ``<id>.ko.svg`` and ``<id>.en.svg`` plus ``manifest.json``."""
    return cache_dir() / "figures"
