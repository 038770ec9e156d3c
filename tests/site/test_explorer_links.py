"""Every engine figure on a topic page links to the explorer on its own configuration, and the link is a grid view."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from support import ROOT

from gradnotes.site import explorer, explorer_links, gallery

DOCS = ROOT / "docs"


def _figures_on_pages() -> set[str]:
    found = set()
    for page in DOCS.glob("*.md"):
        found |= set(re.findall(r"figures/([a-z0-9_]+)\.svg", page.read_text(encoding="utf-8")))
    return found


def test_every_engine_figure_on_a_page_has_a_view_or_a_reason():
    engine = {f for f in gallery.discover() if gallery._simulates(f)} & _figures_on_pages()
    missing = engine - set(explorer_links.VIEWS) - set(explorer_links.NO_VIEW)
    assert not missing, f"engine figures without an explorer link: {sorted(missing)}"


def test_every_view_is_a_point_of_the_grid():
    for figure, view in explorer_links.VIEWS.items():
        assert view["a"] in explorer.ACTIVATIONS and view["i"] in explorer.INITS, figure
        assert view["n"] in explorer.NORMS and bool(view["r"]) in explorer.RESIDUALS, figure
        assert view["d"] in explorer.DEPTHS and view["w"] in explorer.WIDTHS, figure
        assert view["b"] in explorer.BATCHES[view["n"]], figure


def test_the_built_pages_carry_the_links(built_site):
    site, _ = built_site
    seen = {}
    for html_file in site.rglob("index.html"):
        html = html_file.read_text(encoding="utf-8")
        for figure in re.findall(r"<figure\b.*?</figure>", html, re.DOTALL):
            image = re.search(r"figures/([a-z0-9_]+)(?:\.en)?\.svg", figure)
            link = re.search(r'<a class="gx-explore" href="([^"]+)"', figure)
            if image and image.group(1) in explorer_links.VIEWS and "explorer" not in html_file.parts:
                assert link, f"{html_file.relative_to(site)}: {image.group(1)} has no explorer link"
                href = link.group(1).replace("&amp;", "&")
                target = (html_file.parent / urlsplit(href).path / "index.html").resolve()
                assert target.is_file(), href
                query = {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}
                assert query == {k: str(v) for k, v in explorer_links.VIEWS[image.group(1)].items()}
                seen[image.group(1)] = True
    assert set(seen) == set(explorer_links.VIEWS) & _figures_on_pages()
