"""MkDocs hook: build figures through the gradnotes CLI and publish them, plus self-hosted KaTeX, as site files.

A thin adapter. It never imports gradnotes (MkDocs would keep the old module under ``serve``); it runs
``python -m gradnotes build`` in a subprocess unless nothing it reads changed (a coarse stamp of every source: the
build itself decides per figure from its content keys) and every published SVG still has the bytes the manifest
records. It registers the SVGs from the cache outside ``docs/`` — nothing is written under ``docs/``, so ``mkdocs
serve`` cannot loop. What it registers is checked against the manifest once more: a garbled SVG is never published.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
KATEX = ROOT / "node_modules" / "katex" / "dist"
KATEX_FILES = ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js")
# The lightbox (mkdocs-glightbox, manual mode): the images inside a <figure> get its opt-in class.
FIGURE = re.compile(r"<figure\b[^>]*>.*?</figure>", re.DOTALL)
IMG = re.compile(r"<img\b[^>]*>")
LIGHTBOX_CLASS = "on-glb"
# The plugin's own <link>/<script> in <head> for GLightbox's files, which mkdocs.yml already loads site-wide
# (extra_css, extra_javascript): dropped so that each file is named once per page (and the script does not block
# rendering).
LIGHTBOX_HEAD_TAGS = re.compile(
    r'<link href="[^"]*assets/stylesheets/glightbox\.min\.css" rel="stylesheet">'
    r'|<script src="[^"]*assets/javascripts/glightbox\.min\.js"></script>'
)
# What mkdocs-glightbox's HTML parser wraps around the page content it rewrites.
LIGHTBOX_DOCUMENT = ("<html><head></head><body>", "</body></html>")
# GLightbox's dialog has no accessible name (axe: aria-dialog-name, serious) and English button labels, and it drops
# the focus on close: named in the page's language, modal, and the focus back on the figure that opened it.
LIGHTBOX_LABELS = {
    "ko": {"dialog": "확대한 그림", "gclose": "닫기", "gprev": "이전 그림", "gnext": "다음 그림"},
    "en": {"dialog": "Enlarged figure", "gclose": "Close", "gprev": "Previous figure", "gnext": "Next figure"},
}
LIGHTBOX_A11Y = (
    '<script id="glightbox-a11y">(() => {\n'
    f"  const all = {json.dumps(LIGHTBOX_LABELS, ensure_ascii=False)};\n"
    "  const labels = all[document.documentElement.lang] || all.en;\n"
    "  let opener = null;\n"
    '  document.addEventListener("click", (e) => { opener = e.target.closest("a.glightbox") || opener; }, true);\n'
    '  lightbox.on("open", () => {\n'
    '    const box = document.getElementById("glightbox-body");\n'
    '    box.setAttribute("aria-label", labels.dialog);\n'
    '    box.setAttribute("aria-modal", "true");\n'
    '    for (const name of ["gclose", "gprev", "gnext"]) {\n'
    '      box.querySelector("." + name)?.setAttribute("aria-label", labels[name]);\n'
    "    }\n"
    "  });\n"
    '  lightbox.on("close", () => { opener?.focus(); opener = null; });\n'
    "})();</script>"
)
# Kernels started by mkdocs-jupyter inherit this: no __pycache__ appears in watched folders.
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"


def _cache() -> Path:
    env = os.environ.get("GRADNOTES_CACHE")
    return Path(env).resolve() if env else ROOT / ".cache" / "gradnotes"


def _figures() -> Path:
    # The same override as gradnotes.paths.figures_dir(), which the build subprocess reads (the tests' fixture site).
    env = os.environ.get("GRADNOTES_FIGURES_DIR")
    return Path(env).resolve() if env else ROOT / "figures"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for folder, pattern in ((ROOT, "gradnotes/**/*.py"), (_figures(), "*.py"), (_figures(), "data/*")):
        for path in sorted(folder.glob(pattern)):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in ("torch", "numpy", "matplotlib", "scikit-learn"):
        try:
            digest.update(f"{name}=={importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            pass
    return digest.hexdigest()


def _manifest() -> dict:
    try:
        return json.loads((_cache() / "figures" / "manifest.json").read_text(encoding="utf-8"))["figures"]
    except (OSError, ValueError, KeyError):
        return {}


def _figure_ids() -> list[str]:
    return sorted(p.stem for p in _figures().glob("*.py") if not p.stem.startswith("_"))


def _damaged(manifest: dict) -> list[str]:
    """Published SVGs that are missing or whose bytes differ from the manifest's checksum (every figure, both
    languages); a figure the manifest lacks counts as damaged too."""
    out = _cache() / "figures"
    damaged = []
    for figure_id in _figure_ids():
        for lang in ("ko", "en"):
            info = manifest.get(figure_id, {}).get(lang, {})
            try:
                intact = hashlib.sha256((out / f"{figure_id}.{lang}.svg").read_bytes()).hexdigest() == info["sha256"]
            except (OSError, KeyError, TypeError):
                intact = False
            if not intact:
                damaged.append(f"{figure_id}.{lang}.svg")
    return damaged


def on_pre_build(config: MkDocsConfig) -> None:
    stamp = _cache() / "inputs.sha256"
    fingerprint = _fingerprint()
    if stamp.is_file() and stamp.read_text() == fingerprint and not _damaged(_manifest()):
        return  # the second language pass and unrelated edits cost nothing
    # PYTHONPATH: the subprocess imports the gradnotes next to this hook, whatever is installed.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "gradnotes", "build", "--quiet"], cwd=ROOT, env=env, check=False)
    if done.returncode != 0:
        raise PluginError("gradnotes: the figure build failed (the line above names the figure)")
    damaged = _damaged(_manifest())
    if damaged:
        raise PluginError(f"gradnotes: published figures do not match the manifest after a build: {', '.join(damaged)}")
    stamp.write_text(fingerprint)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    # Runs before mkdocs-static-i18n (priority -100), which then pairs figures/x.svg with figures/x.en.svg.
    out = _cache() / "figures"
    for figure_id in sorted(_manifest()):
        for lang, suffix in (("ko", ""), ("en", ".en")):
            source = out / f"{figure_id}.{lang}.svg"
            if source.is_file():
                files.append(File.generated(config, f"figures/{figure_id}{suffix}.svg", abs_src_path=str(source)))
    if not (KATEX / "katex.min.js").is_file():
        raise PluginError("KaTeX is missing: run `npm ci` in the repository (scripts/install does it)")
    for rel in KATEX_FILES:
        files.append(File.generated(config, f"assets/katex/{rel}", abs_src_path=str(KATEX / rel)))
    for font in sorted((KATEX / "fonts").glob("*.woff2")):
        files.append(File.generated(config, f"assets/katex/fonts/{font.name}", abs_src_path=str(font)))
    return files


def _mark(img: re.Match) -> str:
    tag = img.group(0)
    classes = re.search(r'\bclass="([^"]*)"', tag)
    if classes is None:
        return tag[:4] + f' class="{LIGHTBOX_CLASS}"' + tag[4:]
    if LIGHTBOX_CLASS in classes.group(1).split():
        return tag
    return tag[: classes.end(1)] + f" {LIGHTBOX_CLASS}" + tag[classes.end(1) :]


@event_priority(10)  # before mkdocs-glightbox's on_page_content (priority 0), which wraps the marked images
def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Every figure's image opens enlarged on a tap; nothing else does (notebook outputs, icons). The src is already
    the page language's variant here (figures/x.en.svg on English pages), so the enlarged image is too. A page
    without a figure is left to itself: glightbox: false spares it the plugin's re-serialisation of the page."""
    if not any(IMG.search(figure.group(0)) for figure in FIGURE.finditer(html)):
        page.meta["glightbox"] = False
        return html
    return FIGURE.sub(lambda figure: IMG.sub(_mark, figure.group(0)), html)


@event_priority(100)  # before the search plugin indexes page.content (its on_page_context, priority 0)
def on_page_context(context: dict, page: Page, config: MkDocsConfig, nav) -> dict:
    """mkdocs-glightbox returns the content it rewrote as a whole document: back to the fragment it was, or the search
    index loses the page's own entry (its first section became a separate one, anchored at the title)."""
    content = page.content or ""
    if content.startswith(LIGHTBOX_DOCUMENT[0]) and content.endswith(LIGHTBOX_DOCUMENT[1]):
        page.content = content[len(LIGHTBOX_DOCUMENT[0]) : -len(LIGHTBOX_DOCUMENT[1])]
    return context


@event_priority(-50)  # after mkdocs-glightbox's on_post_page (priority 0), which appends its tags to <head>
def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    head, end, body = output.partition("</head>")
    if 'id="init-glightbox"' in body:
        body = body.replace("</body>", LIGHTBOX_A11Y + "</body>", 1)
    return LIGHTBOX_HEAD_TAGS.sub("", head) + end + body
