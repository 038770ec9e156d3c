"""Tap-to-enlarge figures (mkdocs-glightbox, issue #12 item 5): the built HTML, then the real browser at phone width.

Every image inside a ``<figure>`` opens enlarged on a tap or click, in the page language's SVG variant; nothing else
does (notebook outputs, icons). GLightbox's files are served by the site itself, named once per page. In chromium at
390×844 a two-panel figure opens filling the width, pinches to far larger than inline, and Escape closes it, in both
languages and both palettes, with no console error and no request off the local server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support import ARTIFACTS
from support_site import SitePage, axe_script, site_pages_of

SCREENSHOTS = ARTIFACTS / "screenshots"
ASSETS = ("assets/javascripts/glightbox.min.js", "assets/stylesheets/glightbox.min.css")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# The two-panel figure the phone tests tap: the activation functions (left) beside their derivatives (right).
PAGE, FIGURE = "activations/", "activation_functions"
SERIOUS = ("serious", "critical")
DIALOG_NAMES = {"ko": ["확대한 그림", "닫기"], "en": ["Enlarged figure", "Close"]}  # hooks/figures.py LIGHTBOX_LABELS


# ------------------------------------------------------------------------------------------------ the built HTML


@dataclass
class Image:
    src: str
    in_figure: bool
    lightbox_href: str | None  # the wrapping a.glightbox's href, None when not wrapped


class Lightboxed(HTMLParser):
    """The content images of one page (inside <article>), each with its figure and lightbox anchor, and the page's
    references to GLightbox's files."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[Image] = []
        self.asset_refs: list[str] = []
        self.init_scripts = 0
        self._article = self._figure = 0
        self._anchors: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        ref = values.get("href") if tag == "link" else values.get("src") if tag == "script" else None
        if ref and "glightbox" in ref:
            self.asset_refs.append(ref)
        if tag == "script" and values.get("id") == "init-glightbox":
            self.init_scripts += 1
        if tag == "article":
            self._article += 1
        elif tag == "figure":
            self._figure += 1
        elif tag == "a":
            self._anchors.append(values["href"] if "glightbox" in values.get("class", "").split() else None)
        elif tag == "img" and self._article:
            href = next((a for a in reversed(self._anchors) if a is not None), None)
            self.images.append(Image(values.get("src", ""), self._figure > 0, href))

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self._article -= 1
        elif tag == "figure":
            self._figure -= 1
        elif tag == "a" and self._anchors:
            self._anchors.pop()


def lightboxed(page: SitePage) -> Lightboxed:
    parsed = Lightboxed()
    parsed.feed(page.file.read_text(encoding="utf-8"))
    parsed.close()
    return parsed


@pytest.fixture(scope="module")
def parsed_pages(built_site) -> dict[str, tuple[SitePage, Lightboxed]]:
    site, _ = built_site
    return {p.path: (p, lightboxed(p)) for p in site_pages_of(site)}


def test_every_figure_opens_in_its_page_language_variant(parsed_pages):
    problems, figures = [], 0
    for page, parsed in parsed_pages.values():
        for image in (i for i in parsed.images if i.in_figure):
            figures += 1
            name = image.src.rsplit("/", 1)[-1]
            if image.lightbox_href != image.src:
                problems.append(f"{page.label}: {name} opens {image.lightbox_href!r}, not its own src")
            elif "/figures/" in image.src and image.src.endswith(".en.svg") != (page.lang == "en"):
                problems.append(f"{page.label}: {name} is not the {page.lang} variant")
    assert not problems, "\n".join(problems)
    assert figures > 20, f"only {figures} figure images: the lightbox check would pass (nearly) vacuously"


def test_no_image_outside_a_figure_is_wrapped(parsed_pages):
    """Notebook outputs (data: PNGs) stay as they are: wrapping them would repeat each plot's bytes in an href."""
    wrapped = [
        f"{page.label}: {image.src[:60]}"
        for page, parsed in parsed_pages.values()
        for image in parsed.images
        if not image.in_figure and image.lightbox_href is not None
    ]
    assert not wrapped, "\n".join(wrapped)
    outside = sum(not i.in_figure for _, parsed in parsed_pages.values() for i in parsed.images)
    assert outside, "no image outside a figure (notebook outputs): this check would pass vacuously"


def test_pages_without_a_figure_are_left_alone(parsed_pages):
    """No init script where nothing opens (notebooks, home, glossary): the plugin did not touch those pages."""
    problems = []
    for page, parsed in parsed_pages.values():
        has_figure = any(i.in_figure for i in parsed.images)
        if page.is_404:
            continue
        if has_figure != (parsed.init_scripts == 1):
            problems.append(
                f"{page.label}: {len([i for i in parsed.images if i.in_figure])} figure images, "
                f"{parsed.init_scripts} GLightbox init scripts"
            )
    assert not problems, "\n".join(problems)
    assert any(p.is_notebook for p, _ in parsed_pages.values()), "no notebook page: check the notebook build"


def test_glightbox_is_self_hosted_and_named_once_per_page(parsed_pages, built_site):
    site, _ = built_site
    for asset in ASSETS:
        assert (site / asset).is_file() and (site / asset).stat().st_size > 1000, f"{asset} is not in the site"
    problems = []
    for page, parsed in parsed_pages.values():
        for asset in ASSETS:
            refs = [r for r in parsed.asset_refs if r.endswith(asset)]
            if len(refs) != 1:
                problems.append(f"{page.label}: {asset} named {len(refs)} times")
        foreign = [r for r in parsed.asset_refs if urlsplit(r).netloc]
        if foreign:
            problems.append(f"{page.label}: GLightbox from another origin: {foreign}")
    assert not problems, "\n".join(problems)


def test_search_index_keeps_the_pages_with_figures_whole(built_site, parsed_pages):
    """The plugin rewrites a figure page's content as a whole document; unwrapped again (hooks/figures.py), every
    page keeps its own search entry with the text before its first section (it had become a section of its own)."""
    site, _ = built_site
    docs = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]
    pages = {d["location"]: d for d in docs if "#" not in d["location"]}
    with_figures = [p.path for p, parsed in parsed_pages.values() if any(i.in_figure for i in parsed.images)]
    assert with_figures
    problems = [
        f"/{path}: {'no entry' if path not in pages else 'empty text'}"
        for path in with_figures
        if not pages.get(path, {}).get("text", "").strip()
    ]
    problems += [f"{d['location']}: {d['text'][:60]!r}" for d in docs if re.search(r"<(html|head|body)\b", d["text"])]
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------------- the browser

# Waits until the lightbox's opening or closing animation has finished (GLightbox adds and removes classes).
SETTLED = "() => document.getAnimations().every(a => a.playState !== 'running')"
OPEN = """() => {
  const img = document.querySelector('#glightbox-body .gslide.current img');
  return !!img && img.complete && img.naturalWidth > 0
      && document.getAnimations().every(a => a.playState !== 'running');
}"""
CLOSED = """() => !document.querySelector('#glightbox-body')
  && !document.documentElement.classList.contains('glightbox-open')"""
ENLARGED = """() => {
  const img = document.querySelector('#glightbox-body .gslide.current img');
  const box = img.getBoundingClientRect();
  const overlay = getComputedStyle(document.querySelector('#glightbox-body .goverlay'));
  return {src: img.currentSrc || img.src, width: box.width, height: box.height, left: box.left, top: box.top,
          visible: getComputedStyle(img).visibility === 'visible' && box.width > 0,
          background: getComputedStyle(img).backgroundColor, filter: getComputedStyle(img).filter,
          overlay: overlay.backgroundColor, overlayOpacity: overlay.opacity};
}"""
AXE_RUN = """async () => {
  const result = await axe.run(document.querySelector('#glightbox-body'), {resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


@dataclass
class Tab:
    """One browser tab with what it requested and every console or page error."""

    page: object
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign(self, base: str) -> list[str]:
        origin = "{0.scheme}://{0.netloc}/".format(urlsplit(base))
        return [u for u in self.requests if not u.startswith((origin, "data:", "blob:"))]


@pytest.fixture
def open_tab(browser):
    """A factory of tabs in fresh contexts (viewport, palette, touch, reduced motion); all closed after the test."""
    contexts = []

    def make(viewport: dict, scheme: str = "light", phone: bool = False, motion: str = "no-preference") -> Tab:
        context = browser.new_context(
            viewport=viewport,
            color_scheme=scheme,
            reduced_motion=motion,
            locale="ko-KR",
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
        )
        contexts.append(context)
        tab = Tab(context.new_page())
        tab.page.on("request", lambda r: tab.requests.append(r.url))
        tab.page.on("console", lambda m: m.type == "error" and tab.errors.append(f"console: {m.text}"))
        tab.page.on("pageerror", lambda e: tab.errors.append(f"page error: {e}"))
        tab.page.on("response", lambda r: r.status >= 400 and tab.errors.append(f"HTTP {r.status}: {r.url}"))
        return tab

    yield make
    for context in contexts:
        context.close()


def _figure_link(tab, lang: str):
    variant = f"{FIGURE}.en.svg" if lang == "en" else f"{FIGURE}.svg"
    link = tab.locator(f'article figure a.glightbox[href$="/{variant}"]')
    assert link.count() == 1, f"{PAGE} ({lang}) has no lightbox link to {variant}: update PAGE/FIGURE"
    return link


def _pinch(tab, box: dict, spread: float = 150) -> None:
    """Two fingers apart from the image's centre, as a reader zooms on a phone (CDP touch events)."""
    cdp = tab.context.new_cdp_session(tab)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def touch(kind: str, half: float | None) -> None:
        points = [] if half is None else [{"x": x - half, "y": y, "id": 0}, {"x": x + half, "y": y, "id": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 20)
    for step in range(1, 11):
        touch("touchMove", 20 + spread * step / 10)
        tab.wait_for_timeout(16)
    touch("touchEnd", None)
    cdp.detach()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize(("lang", "scheme"), [("ko", "light"), ("en", "dark")])
def test_phone_tap_enlarges_a_two_panel_figure_and_escape_closes_it(open_tab, site_base, lang, scheme):
    tab = open_tab(PHONE, scheme=scheme, phone=True)
    page = tab.page
    page.goto(site_base + ("en/" if lang == "en" else "") + PAGE, wait_until="load")
    link = _figure_link(page, lang)
    link.scroll_into_view_if_needed()
    inline = link.locator("img").bounding_box()
    expected = link.get_attribute("href").rsplit("/", 1)[-1]

    link.tap()
    page.wait_for_function(OPEN)
    shown = page.evaluate(ENLARGED)
    name = f"lightbox.{lang}.{scheme}.phone"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    assert shown["visible"], shown
    assert shown["src"].rsplit("/", 1)[-1] == expected, f"enlarged {shown['src']}, expected the {lang} variant"
    # Fit to the screen: the full width of the phone (the inline figure has the page's margins) ...
    assert shown["width"] >= 0.9 * PHONE["width"], (shown, inline)
    assert shown["left"] >= -1 and shown["left"] + shown["width"] <= PHONE["width"] + 1, "wider than the screen"
    # ... on a dark overlay in either palette, the figure on its white card.
    assert shown["overlay"].startswith("rgb(0, 0, 0") and float(shown["overlayOpacity"]) > 0.8, shown
    assert shown["background"] == "rgb(255, 255, 255)", shown
    if scheme == "dark":
        assert "brightness" in shown["filter"], "slate dims the figure card inline: the enlarged one too"

    # Two fingers zoom the vector figure far past its inline size.
    _pinch(page, page.locator("#glightbox-body .gslide.current img").bounding_box())
    page.wait_for_function(SETTLED)
    zoomed = page.evaluate(ENLARGED)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.zoomed.png"))
    assert zoomed["width"] >= 1.5 * inline["width"], f"pinched to {zoomed['width']:.0f} px, inline {inline['width']}"

    page.keyboard.press("Escape")
    page.wait_for_function(CLOSED)
    assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == (
        "slate" if scheme == "dark" else "default"
    )
    assert not tab.errors, tab.errors
    assert tab.requests and not tab.foreign(site_base), f"requests off the local server: {tab.foreign(site_base)}"


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize(("lang", "scheme"), [("ko", "light"), ("en", "dark")])
def test_desktop_click_opens_the_figure_and_keyboard_works(open_tab, site_base, lang, scheme):
    tab = open_tab(DESKTOP, scheme=scheme)
    page = tab.page
    page.goto(site_base + ("en/" if lang == "en" else "") + PAGE, wait_until="load")
    link = _figure_link(page, lang)
    inline = link.locator("img").bounding_box()

    link.click()
    page.wait_for_function(OPEN)
    shown = page.evaluate(ENLARGED)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"lightbox.{lang}.{scheme}.desktop.png"))
    assert shown["visible"] and shown["src"].endswith("/" + link.get_attribute("href").rsplit("/", 1)[-1]), shown
    assert shown["width"] > inline["width"], f"enlarged {shown['width']:.0f} px is not wider than inline {inline}"
    assert shown["height"] <= DESKTOP["height"], "the enlarged figure does not fit the window"
    names = page.evaluate(
        "() => ['#glightbox-body', '.gclose'].map(s => document.querySelector(s).getAttribute('aria-label'))"
    )
    assert names == DIALOG_NAMES[lang], f"dialog and close button named {names}, expected {DIALOG_NAMES[lang]}"
    page.add_script_tag(path=str(axe_script()))
    serious = [v for v in page.evaluate(AXE_RUN) if v["impact"] in SERIOUS]
    assert not serious, f"axe on the open lightbox: {serious}"
    page.keyboard.press("Escape")
    page.wait_for_function(CLOSED)

    # Keyboard only: the figure is a link; Enter opens it, Escape closes it.
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(OPEN)
    page.keyboard.press("Escape")
    page.wait_for_function(CLOSED)
    assert page.url.split("#")[0].endswith(PAGE), f"Enter navigated away to {page.url}"
    focused = page.evaluate("() => document.activeElement.getAttribute('href')")
    assert focused == link.get_attribute("href"), f"after Escape the focus is on {focused!r}, not on the figure"
    assert not tab.errors, tab.errors
    assert tab.requests and not tab.foreign(site_base), f"requests off the local server: {tab.foreign(site_base)}"


@pytest.mark.browser
@pytest.mark.slow
def test_reduced_motion_opens_and_closes_at_once(open_tab, site_base):
    tab = open_tab(PHONE, phone=True, motion="reduce")
    page = tab.page
    page.goto(site_base + PAGE, wait_until="load")
    link = _figure_link(page, "ko")
    link.scroll_into_view_if_needed()
    link.tap()
    page.wait_for_function(OPEN, timeout=2000)
    durations = page.evaluate(
        "() => [...document.querySelectorAll('#glightbox-body, #glightbox-body *')]"
        ".map(e => parseFloat(getComputedStyle(e).animationDuration) || 0)"
    )
    assert max(durations) <= 0.01, f"animations of {max(durations)} s under prefers-reduced-motion"
    page.keyboard.press("Escape")
    page.wait_for_function(CLOSED, timeout=2000)
    assert not tab.errors, tab.errors


@pytest.mark.browser
@pytest.mark.slow
def test_notebook_output_images_do_not_open(open_tab, site_base, parsed_pages):
    notebooks = sorted(p.path for p, parsed in parsed_pages.values() if p.is_notebook and parsed.images)
    assert notebooks, "no notebook page with an output image"
    tab = open_tab(PHONE, phone=True)
    page = tab.page
    page.goto(site_base + notebooks[0], wait_until="load")
    image = page.locator("article img").first
    image.scroll_into_view_if_needed()
    image.tap()
    page.wait_for_timeout(400)
    assert page.evaluate(CLOSED), "a notebook output opened a lightbox"
    assert not tab.errors, tab.errors
    assert not tab.foreign(site_base), tab.foreign(site_base)


def test_module_paths_are_real():
    """The constants above name things that exist in the sources (not in the build)."""
    root = Path(__file__).resolve().parents[2]
    assert (root / "figures" / f"{FIGURE}.py").is_file(), f"figures/{FIGURE}.py is gone: update FIGURE"
    source = (root / "docs" / (PAGE.strip("/") + ".md")).read_text(encoding="utf-8")
    assert re.search(rf"figures/{FIGURE}\.svg", source), f"docs/{PAGE.strip('/')}.md no longer shows {FIGURE}"
