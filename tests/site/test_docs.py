"""The built site: strict build, paired languages, same figures on both sides, real slugs, no third-party request.

Reproducible bytes are tested on the fixture site (test_build.py): they are a property of the pipeline, not of the
content, and a second build of the real site would cost as much as the first.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import ROOT

from gradnotes.site import gallery as figures

DOCS = ROOT / "docs"
FIGURE_REF = re.compile(r"figures/([a-z0-9_]+)\.svg")
HEADING = re.compile(r"^(#{1,6}) ", re.MULTILINE)


def korean_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if not p.name.endswith(".en.md"))


def english_twin(page: Path) -> Path:
    return page.with_name(page.name[: -len(".md")] + ".en.md")


def strip_code(text: str) -> str:
    return re.sub(r"```.*?```", "", text, flags=re.DOTALL)


def test_strict_build_has_no_warning(built_site):
    _, log = built_site
    assert not [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]


def test_every_page_exists_in_both_languages():
    for page in korean_pages():
        assert english_twin(page).is_file(), f"{page.name} has no English twin"
    for page in DOCS.rglob("*.en.md"):
        assert page.with_name(page.name.replace(".en.md", ".md")).is_file(), f"{page.name} has no Korean twin"


@pytest.mark.parametrize("page", korean_pages(), ids=lambda p: p.name)
def test_pages_pair_figures_and_heading_structure(page):
    ko, en = page.read_text(encoding="utf-8"), english_twin(page).read_text(encoding="utf-8")
    assert FIGURE_REF.findall(ko) == FIGURE_REF.findall(en), "both languages show the same figures in the same order"
    assert HEADING.findall(strip_code(ko)) == HEADING.findall(strip_code(en)), "same headings in the same order"


def test_every_figure_is_used_and_every_used_figure_exists():
    used = {m for page in DOCS.rglob("*.md") for m in FIGURE_REF.findall(page.read_text(encoding="utf-8"))}
    registered = set(figures.discover())
    assert used <= registered, f"pages embed unknown figures: {sorted(used - registered)}"
    assert registered <= used, f"figures no page shows: {sorted(registered - used)}"


def test_language_variants_of_figures_are_published(built_site):
    site, _ = built_site
    for figure_id in figures.discover():
        assert (site / "figures" / f"{figure_id}.svg").is_file()
        assert (site / "figures" / f"{figure_id}.en.svg").is_file()
    html = (site / "en" / "activations" / "index.html").read_text(encoding="utf-8")
    assert "figures/activation_functions.en.svg" in html
    html = (site / "activations" / "index.html").read_text(encoding="utf-8")
    assert "figures/activation_functions.svg" in html


def test_korean_headings_get_real_slugs(site_pages):
    for page in site_pages:
        html = page.read_text(encoding="utf-8")
        assert not re.search(r'<h[1-6] id="_\d*"', html), f"{page}: heading id without a real slug"


def test_no_third_party_request_in_html(site_pages):
    allowed = ("https://gradnotes.github.io/", "https://github.com/gradnotes/")
    for page in site_pages:
        html = page.read_text(encoding="utf-8")
        for url in re.findall(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="(https?://[^"]+)"', html):
            assert url.startswith(allowed), f"{page}: loads {url}"
        assert "fonts.googleapis" not in html and "cdn.jsdelivr" not in html


def test_language_switcher_points_to_the_same_page(site_pages, built_site):
    site, _ = built_site
    page = site / "initialization" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert re.search(r'href="(\.\./)+en/initialization/"[^>]*hreflang="en"', html)
    html = (site / "en" / "initialization" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'href="(\.\./)+initialization/"[^>]*hreflang="ko"', html)


def test_math_is_self_hosted(built_site):
    site, _ = built_site
    assert (site / "assets" / "katex" / "katex.min.js").is_file()
    assert list((site / "assets" / "katex" / "fonts").glob("*.woff2"))
    html = (site / "initialization" / "index.html").read_text(encoding="utf-8")
    assert 'class="arithmatex"' in html


def test_no_page_source_holds_a_control_character():
    """A LaTeX command written through an unescaped Python string ("\\varphi" → vertical tab + "arphi") breaks the
    maths silently: the page shows "$ arphi'(0)=1$". No source of a page, notebook or ledger may hold one."""
    import re

    control = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
    sources = [*(ROOT / "docs").rglob("*.md"), *(ROOT / "claims").glob("*.toml")]
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in sources
        for n, line in enumerate(p.open(encoding="utf-8"), 1)
        if control.search(line)
    ]
    assert found == []
