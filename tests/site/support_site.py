"""Plain helpers of the site tests: the built pages, an HTML parser, a local server, chromium, the fixture site.

Fixtures live in ``tests/site/conftest.py``; test modules import these helpers by name (``from support_site import
...``). Nothing here imports mkdocs or playwright.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from support import ROOT

CHROMIUM = Path("/usr/bin/chromium")
# DEVELOPERS.md's flags; never "--headless" (Playwright passes its own; with ours, screenshots hang). The resolver
# rule fails every host but the local server at once: a stray request is still recorded, but never leaves the machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1280, "height": 900}
LANGS = ("ko", "en")
NOTEBOOKS = "notebooks"  # notebook pages live under /notebooks/ (and /en/notebooks/)


def site_url() -> str:
    """mkdocs.yml's site_url, ending in "/"."""
    # A line match, not yaml.load: mkdocs.yml carries python/object tags that safe_load rejects.
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    match = re.search(r"^site_url:\s*['\"]?([^'\"\s]+)", text, re.MULTILINE)
    assert match, "mkdocs.yml has no site_url"
    return match.group(1).rstrip("/") + "/"


def site_prefix() -> str:
    """The path of site_url, e.g. ``/gradnotes/``: the tests serve the site under it, as GitHub Pages does."""
    return urlsplit(site_url()).path


@dataclass(frozen=True)
class SitePage:
    """One built HTML page: its URL path below the site prefix, its language and its Markdown source if any."""

    path: str  # "" for the Korean home, "en/activations/", "404.html"
    lang: str
    file: Path
    source: Path | None

    @property
    def is_notebook(self) -> bool:
        return self.bare.startswith(NOTEBOOKS + "/")

    @property
    def is_404(self) -> bool:
        return self.path.rsplit("/", 1)[-1] == "404.html"

    @property
    def bare(self) -> str:
        """The path without the language folder: the same for a page and its twin."""
        return self.path[3:] if self.lang == "en" else self.path

    @property
    def twin(self) -> str:
        """The path of the same page in the other language."""
        return self.bare if self.lang == "en" else "en/" + self.path

    @property
    def label(self) -> str:
        return "/" + self.path


def markdown_source(bare: str, lang: str) -> Path | None:
    """The docs/ file a page was built from (suffix structure: x.md is Korean, x.en.md English), if one exists."""
    stem = bare.rstrip("/") or "index"
    suffix = ".en.md" if lang == "en" else ".md"
    for candidate in (ROOT / "docs" / (stem + suffix), ROOT / "docs" / stem / ("index" + suffix)):
        if candidate.is_file():
            return candidate
    return None


def site_pages_of(site: Path) -> list[SitePage]:
    """Every page of the built site, enumerated from the files (new pages are picked up without a list)."""
    pages = []
    for file in sorted(site.rglob("*.html")):
        rel = file.relative_to(site).as_posix()
        if rel.startswith(("assets/", "search/")):
            continue
        path = rel[: -len("index.html")] if rel.endswith("index.html") else rel
        lang = "en" if path.startswith("en/") or path == "en/" else "ko"
        bare = path[3:] if lang == "en" else path
        pages.append(
            SitePage(path, lang, file, markdown_source(bare, lang) if bare.endswith("/") or not bare else None)
        )
    return pages


# Attributes that make a browser fetch or navigate: (tag, attribute).
REFERENCE_ATTRS = {
    ("a", "href"),
    ("link", "href"),
    ("img", "src"),
    ("img", "srcset"),
    ("source", "src"),
    ("source", "srcset"),
    ("script", "src"),
    ("iframe", "src"),
    ("video", "src"),
    ("video", "poster"),
    ("audio", "src"),
    ("object", "data"),
    ("embed", "src"),
}


@dataclass
class Reference:
    """One URL in a page: where it sits (tag, attribute, rel) and its value as written."""

    tag: str
    attr: str
    rel: str
    url: str


class ParsedPage(HTMLParser):
    """The ids (anchor targets) and the references of one HTML file, with the standard library's parser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[Reference] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        for key in ("id", "name") if tag == "a" else ("id",):
            if values.get(key):
                self.ids.add(values[key])
        for attr, value in values.items():
            if (tag, attr) not in REFERENCE_ATTRS or not value.strip():
                continue
            urls = [c.strip().split()[0] for c in value.split(",") if c.strip()] if attr == "srcset" else [value]
            self.refs += [Reference(tag, attr, values.get("rel", ""), u.strip()) for u in urls]


def parse_html(path: Path) -> ParsedPage:
    """Parse one built HTML file."""
    parsed = ParsedPage()
    parsed.feed(path.read_text(encoding="utf-8"))
    parsed.close()
    return parsed


class _SiteHandler(SimpleHTTPRequestHandler):
    """Serves the site directory under ``prefix`` only; anything else is a 404, as on GitHub Pages."""

    prefix = "/"

    def translate_path(self, path: str) -> str:
        path = unquote(path.split("?", 1)[0].split("#", 1)[0])
        if not path.startswith(self.prefix):
            return str(Path(self.directory) / "__outside_site_url__")
        return super().translate_path("/" + path[len(self.prefix) :])

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's signature
        pass  # the browser tests record every request and response themselves


@contextlib.contextmanager
def serve(site: Path, prefix: str) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 (a free port) under ``prefix`` in a thread; yields the base URL."""
    handler = type("Handler", (_SiteHandler,), {"prefix": prefix})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def axe_script() -> Path:
    """axe.min.js as bundled by the installed axe_playwright_python package."""
    spec = importlib.util.find_spec("axe_playwright_python")
    assert spec and spec.origin, "axe_playwright_python is not installed (scripts/install --test)"
    path = Path(spec.origin).parent / "axe.min.js"
    assert path.is_file(), f"{path} is missing"
    return path


def browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (run scripts/install --test)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (scripts/install --test installs Debian's chromium as root)"
    return None


# ------------------------------------------------------------------------------------------- the fixture site

# A tiny bilingual site built by the repository's own hooks (sphinx-gallery's tests/tinybuild idea): two page pairs,
# one toy figure and one toy notebook pair, each built in seconds. The pipeline's properties (reproducible bytes,
# mkdocs serve rebuilding once per edit) are tested on it; only content tests need the real site.
FIXTURE_SITE = ROOT / "tests" / "site" / "fixture_site"
FIXTURE_FIGURE = "toy_wave"
FIXTURE_NOTEBOOK = "toy"
# What a copy of the fixture project holds besides the site itself: what its mkdocs.yml and its hooks reach.
PROJECT_PARTS = ("hooks", "gradnotes", "overrides")


def fixture_env(cache: Path, site: Path = FIXTURE_SITE) -> dict[str, str]:
    """The environment that points the hooks (and their subprocesses) at the fixture site's figures and notebooks."""
    return {
        "GRADNOTES_CACHE": str(cache),
        "GRADNOTES_FIGURES_DIR": str(site / "figures"),
        "GRADNOTES_NOTEBOOKS_DIR": str(site / "docs" / "notebooks"),
        "PYTHONDONTWRITEBYTECODE": "1",  # no __pycache__ in the fixture's figures/ or in hooks/
        "OMP_NUM_THREADS": "1",
        "NO_MKDOCS_2_WARNING": "1",
    }


def copy_fixture_project(dest: Path) -> Path:
    """A copy a test may edit: the fixture site at its place in the tree, plus the hooks, package and theme overrides
    its mkdocs.yml reaches (node_modules linked). Returns the copied fixture site (the folder of its mkdocs.yml)."""
    import shutil

    for name in PROJECT_PARTS:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    site = dest / FIXTURE_SITE.relative_to(ROOT)
    shutil.copytree(FIXTURE_SITE, site, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "node_modules").symlink_to(ROOT / "node_modules")
    return site
