"""MkDocs hook: publish the explorer's data (gradnotes/site/explorer.py) as site files under assets/explorer/v1/.

Thin, like hooks/figures.py: it never imports gradnotes. ``gradnotes build`` (run by the figures hook) computes the
shards into the cache; this hook checks every file against the explorer's manifest (sha256) and, if one is missing or
damaged, runs the build once more (which recomputes only what is missing), so a corrupt file is never served. The
files are registered once, at the site root, for both languages (the English page fetches ../../assets/…).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
FORMAT = 1
SITE_DIR = f"assets/explorer/v{FORMAT}"


def _out() -> Path:
    env = os.environ.get("GRADNOTES_CACHE")
    cache = Path(env).resolve() if env else ROOT / ".cache" / "gradnotes"
    return cache / "explorer" / f"v{FORMAT}"


def _wanted(config: MkDocsConfig) -> bool:
    return (Path(config["docs_dir"]) / "explorer.md").is_file() and os.environ.get("GRADNOTES_EXPLORER", "1") != "0"


def _damaged() -> list[str] | None:
    """Files the manifest lists whose bytes differ (or that are missing); None when there is no usable manifest."""
    try:
        files = json.loads((_out() / "manifest.json").read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    damaged = []
    for name, sha in sorted(files.items()):
        try:
            intact = hashlib.sha256((_out() / name).read_bytes()).hexdigest() == sha
        except OSError:
            intact = False
        if not intact:
            damaged.append(name)
    return damaged


def on_pre_build(config: MkDocsConfig) -> None:
    if not _wanted(config):
        return
    if _damaged() == []:
        return
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "gradnotes", "build", "--quiet"], cwd=ROOT, env=env, check=False)
    if done.returncode != 0:
        raise PluginError("gradnotes: the explorer's data build failed (the line above says why)")
    damaged = _damaged()
    if damaged != []:
        raise PluginError(f"gradnotes: explorer data does not match its manifest after a build: {damaged}")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    if not _wanted(config):
        return files
    manifest = json.loads((_out() / "manifest.json").read_text(encoding="utf-8"))
    for name in sorted(manifest["files"]):
        files.append(File.generated(config, f"{SITE_DIR}/{name}", abs_src_path=str(_out() / name)))
    return files


LINK_TEXT = {"ko": "탐색기에서 이 설정 바꿔 보기", "en": "Explore this configuration"}
_FIGURE = re.compile(r"<figure\b[^>]*>.*?</figure>", re.DOTALL)
_IMAGE = re.compile(r'src="[^"]*?figures/([A-Za-z0-9_]+)(?:\.en)?\.svg"')


def _links() -> dict[str, str]:
    try:
        links = json.loads((_out().parent / "links.json").read_text(encoding="utf-8"))
        return links if isinstance(links, dict) else {}
    except (OSError, ValueError):
        return {}


def on_page_content(html: str, page, config: MkDocsConfig, files: Files) -> str:
    """Under every figure the explorer can show, a link that opens the explorer on the same configuration."""
    if not _wanted(config):
        return html
    url = page.url
    lang = "en" if url.startswith("en/") else "ko"
    inner = url[3:] if lang == "en" else url
    if inner.startswith("explorer/"):
        return html
    root = "../" * inner.count("/")
    links = _links()

    def add(match: re.Match) -> str:
        figure = match.group(0)
        image = _IMAGE.search(figure)
        if image is None or image.group(1) not in links or "gx-explore" in figure:
            return figure
        link = (
            f' <a class="gx-explore" href="{root}explorer/{links[image.group(1)].replace("&", "&amp;")}">'
            f"{LINK_TEXT[lang]}</a>"
        )
        if "</figcaption>" in figure:
            return figure.replace("</figcaption>", link + "</figcaption>", 1)
        return figure.replace("</figure>", f"<figcaption>{link}</figcaption></figure>", 1)

    return _FIGURE.sub(add, html)
