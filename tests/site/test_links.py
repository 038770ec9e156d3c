"""Every internal link, asset and anchor of the built site resolves, in both languages: a crawl of the HTML files.

No browser needed: each href/src is resolved against its page's URL under site_url, mapped to a file of the built
site, and a #fragment must be an id (or <a name>) in the target page. sitemap.xml and the search index (the links
search results open) are checked the same way.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from support_site import parse_html, site_pages_of, site_url

SKIPPED_SCHEMES = ("mailto:", "tel:", "data:", "javascript:", "blob:")


class Crawl:
    """Resolves URLs to files of one built site and caches each HTML file's ids."""

    def __init__(self, site: Path) -> None:
        self.site, self.base = site, site_url()
        self.prefix = urlsplit(self.base).path

    def page_url(self, file: Path) -> str:
        rel = file.relative_to(self.site).as_posix()
        return self.base + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)

    @cache  # noqa: B019 - one Crawl per session; the cache lives as long as the site
    def ids(self, file: Path) -> frozenset[str]:
        return frozenset(parse_html(file).ids)

    def check(self, url: str, context: str) -> str | None:
        """None if ``url`` (absolute) is external or resolves; otherwise why it is broken."""
        if url.startswith(SKIPPED_SCHEMES):
            return None
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != "{0.scheme}://{0.netloc}".format(urlsplit(self.base)):
            return None  # another site: not ours to check offline
        path = unquote(parts.path)
        if not path.startswith(self.prefix):
            return f"{context}: {url} is outside the site ({self.prefix})"
        target = self.site / path[len(self.prefix) :]
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            return f"{context}: {url} → no file {target.relative_to(self.site).as_posix()}"
        fragment = unquote(parts.fragment)
        if fragment and target.suffix == ".html" and fragment not in self.ids(target):
            return f"{context}: {url} → no id {fragment!r} in {target.relative_to(self.site).as_posix()}"
        return None


@pytest.fixture(scope="module")
def crawl(built_site) -> Crawl:
    site, _ = built_site
    return Crawl(site)


def test_every_internal_link_and_anchor_resolves(crawl):
    files = sorted(p.file for p in site_pages_of(crawl.site))
    broken, checked, anchors = [], 0, 0
    for file in files:
        page = crawl.page_url(file)
        for ref in parse_html(file).refs:
            url = urljoin(page, ref.url)
            context = f"/{file.relative_to(crawl.site).as_posix()} <{ref.tag} {ref.attr}={ref.url!r}>"
            problem = crawl.check(url, context)
            checked += not url.startswith(SKIPPED_SCHEMES) and url.startswith(crawl.base)
            anchors += "#" in ref.url and url.startswith(crawl.base)
            if problem:
                broken.append(problem)
    assert not broken, f"{len(broken)} broken internal link(s):\n" + "\n".join(broken)
    # The crawl must have seen the site: every page links the others and its own headings.
    assert checked > 10 * len(files) and anchors > len(files), (checked, anchors)


def test_sitemap_lists_only_existing_pages(crawl):
    text = (crawl.site / "sitemap.xml").read_text(encoding="utf-8")
    urls = re.findall(r"<loc>([^<]+)</loc>", text) + re.findall(r'hreflang="[^"]+" href="([^"]+)"', text)
    assert urls, "sitemap.xml lists no URL"
    broken = [p for p in (crawl.check(u, "sitemap.xml") for u in urls) if p]
    assert not broken, "\n".join(broken)
    pages = {crawl.page_url(p.file) for p in site_pages_of(crawl.site) if not p.is_404}
    missing = sorted(pages - set(urls))
    assert not missing, f"pages missing from sitemap.xml: {missing}"


def test_search_results_link_to_existing_sections(crawl):
    index = json.loads((crawl.site / "search" / "search_index.json").read_text(encoding="utf-8"))
    locations = [doc["location"] for doc in index["docs"]]
    assert locations, "the search index is empty"
    broken = [p for p in (crawl.check(urljoin(crawl.base, loc), "search index") for loc in locations) if p]
    assert not broken, "\n".join(broken)
