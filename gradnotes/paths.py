"""Where things live: the repository's figures/ and the content-addressed cache outside docs/."""

from __future__ import annotations

import os
from pathlib import Path

from gradnotes.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = ROOT / "docs"


def figures_dir() -> Path:
    """The figure sources, ``<repo>/figures``; GRADNOTES_FIGURES_DIR overrides (tests use a scratch folder)."""
    env = os.environ.get("GRADNOTES_FIGURES_DIR")
    return Path(env).resolve() if env else ROOT / "figures"


def notebooks_dir() -> Path:
    """The notebook sources, ``<repo>/docs/notebooks``; GRADNOTES_NOTEBOOKS_DIR overrides (the tests' fixture site)."""
    env = os.environ.get("GRADNOTES_NOTEBOOKS_DIR")
    return Path(env).resolve() if env else DOCS_DIR / "notebooks"


def cache_dir() -> Path:
    """Root of every cache (results, figure data, SVGs); GRADNOTES_CACHE overrides ``<repo>/.cache/gradnotes``.

    A path that is a file, or a folder that cannot be created or written, is a UserError (one line), not a traceback
    from whichever writer happens to touch it first.
    """
    env = os.environ.get("GRADNOTES_CACHE")
    path = Path(env).resolve() if env else ROOT / ".cache" / "gradnotes"
    where = f"GRADNOTES_CACHE={env}" if env else f"the cache folder {path}"
    if path.exists() and not path.is_dir():
        raise UserError(f"{where} is a file, not a folder: point GRADNOTES_CACHE at a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{where} cannot be created: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"{where} is not writable: point GRADNOTES_CACHE at a folder you can write")
    return path


def published_figures_dir() -> Path:
    """The SVGs the MkDocs hook registers: ``<id>.ko.svg`` and ``<id>.en.svg`` plus ``manifest.json``."""
    return cache_dir() / "figures"
