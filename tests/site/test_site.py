"""The built site in a real browser (Debian's chromium via Playwright), every page in both languages.

Pages are enumerated from the built site, never listed here. Each page is visited once by ``survey`` (requests,
console, images, math, axe, language switcher are all recorded on that visit); the tests then assert on the record,
so that one failure names every offending page at once.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support import ARTIFACTS, ROOT
from support_site import LANGS, SitePage, axe_script, site_pages_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = ARTIFACTS / "screenshots"  # .cache/test-artifacts/screenshots unless GRADNOTES_TEST_ARTIFACTS is set
HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
# Math left as source in the reader's text: TeX delimiters, a TeX command, or $…$ that arithmatex would have taken
# (no space after the opening or before the closing dollar).
RAW_LATEX = re.compile(
    r"\\\(|\\\)|\\\[|\\\]|\$\$|\\[A-Za-z]{2,}|(?<![\w$])\$(?=[^\s$])[^$\n]{1,200}(?<=[^\s$])\$(?![\w$])"
)
# Math in Markdown, once code is stripped: the same delimiters arithmatex (generic) recognises.
MARKDOWN_MATH = re.compile(r"\$\$|\\\(|\\\[|(?<![\\$\w])\$(?=\S)[^$\n]+?(?<=\S)\$(?![\w$])")
SERIOUS = ("serious", "critical")
# In the slate palette only the colour rules can differ from the light run: they run there on the screenshot pages.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]
# Run in the page after "load": images are forced eager and awaited, fonts settle, then the content is read.
PROBE = """async () => {
  for (const img of document.images) img.loading = "eager";
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(done => { img.addEventListener("load", done); img.addEventListener("error", done); })));
  await document.fonts.ready;
  const article = document.querySelector("article") || document.body;
  const skip = "code, pre, script, style, textarea, kbd, samp, .katex, .highlight";
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const text = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.parentElement.closest(skip)) text.push(node.textContent);
  }
  const corner = img => {  // alpha and luminance of the top-left pixel: figures are drawn on an opaque card
    try {
      const canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
      const ctx = canvas.getContext("2d");
      ctx.drawImage(img, 0, 0);
      const [r, g, b, a] = ctx.getImageData(2, 2, 1, 1).data;
      return {alpha: a, luminance: (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255};
    } catch (error) { return {error: String(error)}; }
  };
  return {
    lang: document.documentElement.lang,
    scheme: document.body.getAttribute("data-md-color-scheme"),
    parts: [...article.querySelectorAll("[lang]")].map(e => e.lang),
    images: [...document.images].map(img => ({
      src: img.currentSrc || img.src, loaded: img.complete && img.naturalWidth > 0,
      alt: img.getAttribute("alt"), content: !!img.closest("article"),
      corner: img.closest("article") && img.naturalWidth > 0 ? corner(img) : null,
    })),
    text: text.join(" "),
    katex: document.querySelectorAll(".katex").length,
    katexErrors: [...document.querySelectorAll(".katex-error")].map(e => e.textContent.slice(0, 80)),
    unrendered: [...document.querySelectorAll(".arithmatex")].filter(e => !e.querySelector(".katex"))
      .map(e => e.textContent.slice(0, 80)),
  };
}"""
AXE_RUN = """async rules => {
  const options = {resultTypes: ["violations"]};
  if (rules) options.runOnly = {type: "rule", values: rules};
  const result = await axe.run(document, options);
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""


@dataclass
class Visit:
    """What one page did in the browser."""

    page: SitePage
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    axe: list[dict] = field(default_factory=list)
    switched_to: str | None = None


class Recorder:
    """Attaches to a tab once and files every request, console error and failed response under the current visit."""

    def __init__(self, tab) -> None:
        self.current: Visit | None = None
        tab.on("request", lambda r: self.current and self.current.requests.append(r.url))
        tab.on("console", self._console)
        tab.on("pageerror", lambda e: self.current and self.current.errors.append(f"page error: {e}"))
        tab.on("response", self._response)

    def _console(self, message) -> None:
        if self.current and message.type == "error":
            self.current.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def _response(self, response) -> None:
        if self.current and response.status >= 400:
            self.current.errors.append(f"HTTP {response.status}: {response.url}")


def _path_of(url: str, base: str) -> str:
    url = url.split("#", 1)[0].split("?", 1)[0]  # search results carry ?h=<query> for highlighting
    return url[len(base) :] if url.startswith(base) else url


@pytest.fixture(scope="module")
def pages(built_site) -> list[SitePage]:
    site, _ = built_site
    found = site_pages_of(site)
    assert {p.lang for p in found} == set(LANGS), "the built site lacks a language"
    return found


def _switch(tab, page: SitePage, site_base: str) -> str:
    """Click the language menu's other language, as a reader does; returns the path it lands on."""
    other = "en" if page.lang == "ko" else "ko"
    tab.hover(".md-select")  # the menu opens on hover
    with tab.expect_navigation(wait_until="load"):
        tab.click(f"a.md-select__link[hreflang='{other}']")
    return _path_of(tab.url, site_base)


@pytest.fixture(scope="module")
def survey(light_page, site_base, pages) -> dict[str, Visit]:
    """Visit every page once in the light palette: record, probe, axe, screenshot the screenshot pages.

    Pages are walked in language pairs to save loads: open a page, inspect it, switch language (that load is the
    twin's visit), inspect the twin, switch back. Each switch lands where it should or the switcher test says so.
    """
    tab, recorder, visits = light_page, Recorder(light_page), {p.path: Visit(p) for p in pages}
    axe, shots = str(axe_script()), {p.path for p in _shot_targets(pages)}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def inspect(visit: Visit) -> None:
        # After "load": axe takes long enough for late requests (search worker, lunr) to be filed under this visit.
        visit.facts = tab.evaluate(PROBE)
        tab.add_script_tag(path=axe)
        visit.axe = tab.evaluate(AXE_RUN, None)
        if visit.page.path in shots:
            tab.screenshot(path=str(SCREENSHOTS / f"{_shot_name(visit.page)}.light.png"), full_page=True)

    started, loads = time.monotonic(), 0
    for page in pages:
        visit = visits[page.path]
        if visit.facts:
            continue  # inspected as the twin of an earlier page
        recorder.current = visit
        tab.goto(site_base + page.path, wait_until="load")
        inspect(visit)
        loads += 1
        if page.is_404:
            continue  # no twin to switch to
        twin = visits.get(page.twin)
        recorder.current = twin if twin and not twin.facts else visit
        visit.switched_to = _switch(tab, page, site_base)
        loads += 1
        if twin is None or twin.facts or visit.switched_to != twin.page.path:
            continue  # a wrong landing fails the switcher test; the twin gets its own visit later
        inspect(twin)
        recorder.current = visit
        twin.switched_to = _switch(tab, twin.page, site_base)
        loads += 1
    tab.wait_for_load_state("networkidle")  # the last page's late requests, before the recorder stops
    recorder.current = None
    print(f"survey of {len(pages)} pages: {loads} loads, {time.monotonic() - started:.1f} s")
    return visits


def _report(problems: dict[str, list]) -> str:
    return "\n".join(f"{page}: {item}" for page, items in problems.items() for item in items)


def test_every_page_loads_without_console_error(survey):
    problems = {v.page.label: v.errors for v in survey.values() if v.errors}
    assert not problems, "console errors, page errors or failed responses:\n" + _report(problems)


def test_no_request_leaves_the_local_server(survey, site_base):
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(site_base))
    problems = {
        v.page.label: [u for u in v.requests if not u.startswith((origin + "/", "data:", "blob:"))]
        for v in survey.values()
    }
    problems = {k: u for k, u in problems.items() if u}
    assert not problems, f"requests to an origin other than {origin}:\n" + _report(problems)
    assert all(v.requests for v in survey.values()), "the request recorder saw nothing"


def test_every_image_loads(survey):
    problems = {v.page.label: [i["src"] for i in v.facts["images"] if not i["loaded"]] for v in survey.values()}
    problems = {k: s for k, s in problems.items() if s}
    assert not problems, "images that did not load (naturalWidth 0):\n" + _report(problems)


def _markdown_has_math(source: Path) -> bool:
    text = source.read_text(encoding="utf-8")
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.DOTALL | re.MULTILINE)  # fenced code
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code
    return bool(MARKDOWN_MATH.search(text))


def test_math_is_rendered_and_no_raw_latex_is_left(survey):
    problems: dict[str, list] = {}
    with_math = 0
    for v in survey.values():
        found = problems.setdefault(v.page.label, [])
        found += [f"raw LaTeX in text: …{m.group(0)}…" for m in RAW_LATEX.finditer(v.facts["text"])]
        found += [f"KaTeX error: {e}" for e in v.facts["katexErrors"]]
        found += [f"math left unrendered: {e}" for e in v.facts["unrendered"]]
        if v.page.source and _markdown_has_math(v.page.source):
            with_math += 1
            if not v.facts["katex"]:
                found.append(f"{v.page.source.relative_to(ROOT)} has math but the page shows no .katex")
    problems = {k: p for k, p in problems.items() if p}
    assert not problems, _report(problems)
    assert with_math, "no page has math: the math check would pass vacuously"


def test_no_markdown_fence_left_in_text(survey):
    """A code fence the Markdown (or a notebook's cell) failed to parse shows up as ``` in the prose."""
    problems = {}
    for v in survey.values():
        text = v.facts["text"]
        found = [text[max(0, m.start() - 20) : m.start() + 60].strip() for m in re.finditer("```", text)]
        if found:
            problems[v.page.label] = [f"raw fence: …{f}…" for f in found[:3]]
    assert not problems, _report(problems)


def test_language_switcher_goes_to_the_twin_and_back(survey):
    problems = {}
    for v in survey.values():
        if v.page.is_404:
            continue
        if v.switched_to != v.page.twin:
            problems[v.page.label] = [f"switcher went to /{v.switched_to}, expected /{v.page.twin}"]
        elif v.page.twin not in survey:
            problems[v.page.label] = [f"twin /{v.page.twin} is not a built page"]
        elif survey[v.page.twin].switched_to != v.page.path:
            problems[v.page.label] = [f"/{v.page.twin} switches to /{survey[v.page.twin].switched_to}, not back"]
    assert not problems, _report(problems)


def test_pages_declare_their_language(survey):
    problems = {}
    for v in survey.values():
        if v.page.is_404:  # one file for every missing URL: both languages, each part marked
            if not set(LANGS) <= set(v.facts["parts"]):
                problems[v.page.label] = [f"404 parts marked {v.facts['parts']}, expected both of {LANGS}"]
        elif v.facts["lang"] != v.page.lang:
            problems[v.page.label] = [f'<html lang="{v.facts["lang"]}">, expected {v.page.lang}']
    assert not problems, _report(problems)


def test_axe_finds_no_serious_or_critical_violation(survey):
    problems = {
        v.page.label: [
            f"[{a['impact']}] {a['id']}: {a['help']} at {a['nodes']}" for a in v.axe if a["impact"] in SERIOUS
        ]
        for v in survey.values()
    }
    problems = {k: p for k, p in problems.items() if p}
    assert not problems, "axe-core violations:\n" + _report(problems)


def test_content_figures_have_alt_text_in_the_page_language(survey):
    problems: dict[str, list] = {}
    figures = 0
    for v in survey.values():
        for image in (i for i in v.facts["images"] if i["content"]):
            figures += 1
            alt = (image["alt"] or "").strip()
            name = image["src"].rsplit("/", 1)[-1][:60]
            if not alt:
                problems.setdefault(v.page.label, []).append(f"{name}: no alt text")
            elif (v.page.lang == "ko") != bool(HANGUL.search(alt)):
                problems.setdefault(v.page.label, []).append(f"{name}: alt not in {v.page.lang}: {alt[:60]!r}")
    assert not problems, _report(problems)
    assert figures, "no page shows a figure: the alt-text check would pass vacuously"


def test_figures_are_drawn_on_an_opaque_light_card(survey):
    """The dark palette relies on it: a transparent SVG would draw dark ink on the slate background."""
    problems: dict[str, list] = {}
    for v in survey.values():
        for image in (i for i in v.facts["images"] if i["content"] and i["corner"]):
            corner = image["corner"]
            if "error" in corner or corner["alpha"] < 250 or corner["luminance"] < 0.8:
                problems.setdefault(v.page.label, []).append(f"{image['src'].rsplit('/', 1)[-1]}: corner {corner}")
    assert not problems, _report(problems)


# Search: Material's client search (lunr, one index shared by both languages). Terms from the pages' H1 titles.
SEARCHES = [
    ("ko", "배치 정규화", "batch-normalization/"),
    ("ko", "기울기 소실", "vanishing-exploding/"),
    ("ko", "층 정규화", "layer-normalization/"),
    ("ko", "기울기가", "vanishing-exploding/"),
    ("en", "batch normalization", "en/batch-normalization/"),
    ("en", "vanishing gradient", "en/vanishing-exploding/"),
    ("en", "layer normalization", "en/layer-normalization/"),
]
TOP = 3  # the right page must be among the first TOP pages listed


def search(tab, home: str, query: str) -> list[str]:
    """Type ``query`` into Material's search box like a reader and return the result pages' URLs, best first."""
    if tab.url.split("#")[0] != home:
        tab.goto(home, wait_until="networkidle")
    box = tab.locator("input.md-search__input")
    box.click()
    box.fill("")
    box.press("End")  # Material reads the query on keyup; an empty query clears the list
    tab.wait_for_function("!document.querySelector('.md-search-result__list li')")
    box.press_sequentially(query)
    box.press("End")  # Hangul typed by Playwright fires no keyup of its own
    try:
        tab.wait_for_selector(".md-search-result__list li", timeout=10_000)
    except Exception:  # noqa: BLE001 - Playwright's TimeoutError: report what the page shows instead
        return []
    time.sleep(0.2)  # results render in one pass after the worker answers; let it finish
    links = tab.eval_on_selector_all(
        ".md-search-result__list > li > a.md-search-result__link", "els => els.map(e => e.href)"
    )
    return [link.split("#", 1)[0] for link in links]


@pytest.mark.parametrize(("lang", "query", "expected"), SEARCHES, ids=[q for _, q, _ in SEARCHES])
def test_search_finds_the_page(light_page, site_base, pages, lang, query, expected):
    assert expected in {p.path for p in pages}, f"/{expected} is not a built page"
    home = site_base + ("en/" if lang == "en" else "")
    found = search(light_page, home, query)
    top = [_path_of(url, site_base) for url in found[:TOP]]
    assert expected in top, f"{query!r} on /{_path_of(home, site_base)}: top results {top}, expected /{expected}"


# Screenshots and the dark palette.
def _shot_targets(pages: list[SitePage]) -> list[SitePage]:
    """Home, the figure-heavy activations page and the first notebook page, in both languages (when they exist)."""
    by_path = {p.path: p for p in pages}
    notebooks = sorted(p.path for p in pages if p.is_notebook and p.lang == "ko")
    wanted = ["", "activations/"] + notebooks[:1]
    return [by_path[w] for w in wanted if w in by_path] + [by_path["en/" + w] for w in wanted if "en/" + w in by_path]


def _shot_name(page: SitePage) -> str:
    return (page.bare.strip("/").replace("/", "_") or "home") + f".{page.lang}"


@dataclass
class Shot:
    """One screenshot page in the dark palette."""

    page: SitePage
    shown: str
    unframed: int
    axe: list[dict]


@pytest.fixture(scope="module")
def dark_tour(dark_page, site_base, pages) -> list[Shot]:
    """The screenshot pages in the dark palette: screenshot, palette shown, figure frames, axe's colour rules."""
    if not any(p.is_notebook for p in pages):
        print("no notebook page yet: its screenshots are skipped")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    axe, shots, tab = str(axe_script()), [], dark_page
    for page in _shot_targets(pages):
        tab.goto(site_base + page.path, wait_until="load")
        tab.evaluate(PROBE)  # the survey's settling: images eager and loaded, fonts ready
        shown = tab.evaluate("document.body.getAttribute('data-md-color-scheme')")
        frames = tab.eval_on_selector_all("article figure img", "els => els.map(e => getComputedStyle(e).boxShadow)")
        tab.screenshot(path=str(SCREENSHOTS / f"{_shot_name(page)}.dark.png"), full_page=True)
        tab.add_script_tag(path=axe)
        found = tab.evaluate(AXE_RUN, COLOUR_RULES)
        shots.append(Shot(page, shown, sum(f in ("", "none") for f in frames), found))
    return shots


def test_screenshot_pages_exist(pages):
    assert any(p.bare == "activations/" for p in _shot_targets(pages)), "activations is gone: update _shot_targets"


def test_palette_follows_the_system_preference(survey, dark_tour):
    wrong = [
        f"{v.page.label} (light): scheme {v.facts['scheme']!r}"
        for v in survey.values()
        if v.facts["scheme"] != "default"
    ]
    wrong += [f"{s.page.label} (dark): scheme {s.shown!r}" for s in dark_tour if s.shown != "slate"]
    assert not wrong, wrong
    names = [f"{_shot_name(s.page)}.{scheme}.png" for s in dark_tour for scheme in ("light", "dark")]
    assert all((SCREENSHOTS / n).stat().st_size for n in names), "a screenshot is missing or empty"


def test_figures_are_framed_on_the_dark_palette(dark_tour):
    unframed = [f"{s.page.label}: {s.unframed} figure(s)" for s in dark_tour if s.unframed]
    assert not unframed, "figures without a frame on slate: " + ", ".join(unframed)


def test_axe_colour_rules_pass_on_the_dark_palette(dark_tour):
    problems = {
        s.page.label: [
            f"[{a['impact']}] {a['id']}: {a['help']} at {a['nodes']}" for a in s.axe if a["impact"] in SERIOUS
        ]
        for s in dark_tour
    }
    problems = {k: p for k, p in problems.items() if p}
    assert not problems, "axe-core colour violations on slate:\n" + _report(problems)
    assert any(s.page.bare == "activations/" for s in dark_tour)
