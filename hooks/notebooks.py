"""MkDocs hook for the notebook pages: execute them into the cache, render the executed copies, keep them light.

A thin adapter beside ``mkdocs_hook.py`` (listed after it under ``hooks:`` in mkdocs.yml). Like that hook it never
imports ``gradnotes``: the execution runs as ``python -m gradnotes.site.notebooks`` in a subprocess, which re-executes
only the notebooks whose content key changed (source, package, library versions) and is cheap otherwise.

* ``on_pre_build``: run that subprocess; a failing cell fails the build with one line naming the notebook.
* ``on_pre_page`` (before mkdocs-jupyter's): point ``docs/notebooks/<topic>[.en].md`` at the executed
  ``<cache>/notebooks/<lang>/<topic>.ipynb``. mkdocs-jupyter (``include: ["*.ipynb"]``, ``execute: false``) renders
  it with its outputs, and ``include_source`` publishes it next to the page as the download. Pages stay ``.md`` for
  mkdocs-static-i18n, which mishandles ``.ipynb`` sources.
* ``JUPYTER_PATH``: nbconvert then finds ``gradnotes/notebook_theme/mkdocs_html/assets/index.css`` (3 KB, Material's
  colours) before mkdocs-jupyter's 575 KB JupyterLab stylesheet, which each page would otherwise inline.
* Heading ids: mkdocs-jupyter slugifies to ASCII (Korean headings get empty ids) and nbconvert percent-encodes;
  both are replaced by the site's own ``pymdownx.slugs.slugify(case="lower")``, for the headings and the TOC alike.
* Speed: nbconvert builds a new Jinja environment for every page and compiles its templates again (about 1.5 s a
  page, two conversions each); one in-memory bytecode cache shared by those environments brings that to ~0.25 s.
  Jinja checks each template's source checksum, so an edited template is still recompiled.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from pathlib import Path
from xml.etree.ElementTree import Element

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = "notebooks/"
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    p for p in (str(ROOT / "hooks" / "notebook_theme"), os.environ.get("JUPYTER_PATH", "")) if p
)


def _cache() -> Path:
    env = os.environ.get("GRADNOTES_CACHE")
    return Path(env).resolve() if env else ROOT / ".cache" / "gradnotes"


def _use_site_slugs() -> None:
    import markdown
    import mkdocs_jupyter.convert
    import mkdocs_jupyter.plugin
    from defusedxml import ElementTree
    from markdown.extensions.toc import TocExtension
    from nbconvert.filters.strings import html2text
    from pymdownx.slugs import slugify

    slug = slugify(case="lower")

    def heading_with_anchor(html: str, anchor_link_text: str = "¶") -> str:
        try:
            heading = ElementTree.fromstring(html)
        except Exception:
            return html  # as mkdocs-jupyter does: leave what it cannot parse alone
        anchor = slug(html2text(heading), "-")
        heading.set("id", anchor)
        link = Element("a", {"class": "anchor-link", "href": f"#{anchor}"})
        link.text = anchor_link_text
        heading.append(link)
        return ElementTree.tostring(heading, encoding="unicode")

    def toc_tokens(source: str, toc_depth: int) -> list:
        md = markdown.Markdown(extensions=[TocExtension(toc_depth=toc_depth, slugify=slug)])
        md.convert(source)
        return md.toc_tokens

    mkdocs_jupyter.convert.add_anchor_lower_id = heading_with_anchor
    mkdocs_jupyter.plugin._get_markdown_toc = toc_tokens


_use_site_slugs()


def _share_compiled_templates() -> None:
    import jinja2
    import nbconvert.exporters.templateexporter

    class MemoryBytecodeCache(jinja2.BytecodeCache):
        def __init__(self) -> None:
            self.code: dict[str, bytes] = {}

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            if bucket.key in self.code:
                bucket.bytecode_from_string(self.code[bucket.key])

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            self.code[bucket.key] = bucket.bytecode_to_string()

    module = nbconvert.exporters.templateexporter
    if not isinstance(module.Environment, functools.partial):  # MkDocs may load this hook twice (serve)
        module.Environment = functools.partial(jinja2.Environment, bytecode_cache=MemoryBytecodeCache())


_share_compiled_templates()


_RUNNING: list[subprocess.Popen] = []


def _start() -> subprocess.Popen:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "gradnotes.site.notebooks", "--quiet"], cwd=ROOT, env=env)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    # Start executing stale notebooks now, so that they run while the figures hook builds the figures (each leaves
    # a core idle part of the time); on_pre_build waits for the result. A run left over from a build that stopped
    # before its on_pre_build is waited for first: it saw older sources, this build starts its own.
    while _RUNNING:
        _RUNNING.pop().wait()
    _RUNNING.append(_start())
    return config


def on_pre_build(config: MkDocsConfig) -> None:
    process = _RUNNING.pop() if _RUNNING else _start()
    if process.wait() != 0:
        raise PluginError("gradnotes: a notebook failed (the line above names it)")


@event_priority(10)  # before mkdocs-jupyter's on_pre_page (priority 0) decides whether the page is a notebook
def on_pre_page(page: Page, config: MkDocsConfig, files: Files) -> Page:
    uri = page.file.src_uri
    if uri.startswith(NOTEBOOKS) and uri.endswith(".md"):
        name = uri[len(NOTEBOOKS) : -len(".md")]
        lang = "en" if name.endswith(".en") else "ko"
        executed = _cache() / "notebooks" / lang / f"{name.removesuffix('.en')}.ipynb"
        if not executed.is_file():
            raise PluginError(f"gradnotes: {executed} is missing (python -m gradnotes.site.notebooks makes it)")
        page.file.abs_src_path = str(executed)
    return page


# nbconvert's lab template always emits a module script that would import mermaid from cdnjs when a page has a
# diagram. Ours have none, and the site makes no request to a third-party origin, executed or not: drop it.
_MERMAID_SCRIPT = re.compile(r'<script type="module">(?:(?!</script>).)*?mermaid(?:(?!</script>).)*?</script>\s*', re.S)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri.startswith(NOTEBOOKS):
        return _MERMAID_SCRIPT.sub("", html)
    return html
