"""Fixtures of the site tests: the real site built once per session, served locally, and one chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import mkdocs_build
from support_site import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, browser_missing, serve, site_prefix


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> tuple[Path, str]:
    """The real site, built once per test session with the session's cache (GRADNOTES_CACHE; cold in CI)."""
    reuse = os.environ.get("GRADNOTES_TEST_SITE")  # a site built before with the same cache: for working on tests
    if reuse:
        return Path(reuse), ""
    site = tmp_path_factory.mktemp("site")
    done = mkdocs_build(site)
    assert done.returncode == 0, done.stderr[-4000:]
    return site, done.stderr


@pytest.fixture(scope="session")
def site_pages(built_site) -> list[Path]:
    """Every HTML content page of the built site (both languages), without 404.html."""
    site, _ = built_site
    return sorted(p for p in site.rglob("index.html") if "assets" not in p.parts)


@pytest.fixture(scope="session")
def site_base(built_site) -> Iterator[str]:
    """Base URL of the built site, served for the whole session."""
    site, _ = built_site
    with serve(site, site_prefix()) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    """One headless chromium for the whole session. Missing: a loud skip locally, a failure when CI is set."""
    missing = browser_missing()
    if missing:
        message = f"BROWSER TESTS NOT RUN: {missing}"
        if os.environ.get("CI"):
            pytest.fail(message + " — CI is set, so this is a failure, not a skip", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def light_page(browser):
    """A reused tab in a light-scheme context (the palette's first toggle follows the system preference)."""
    context = browser.new_context(viewport=VIEWPORT, color_scheme="light", locale="ko-KR")
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def dark_page(browser):
    """A reused tab in a dark-scheme context: Material shows the slate palette."""
    context = browser.new_context(viewport=VIEWPORT, color_scheme="dark", locale="ko-KR")
    yield context.new_page()
    context.close()
