"""The build pipeline on the fixture site (tests/site/fixture_site/): the repository's hooks compute a toy figure and
execute a toy notebook pair into a strict, bilingual, byte-for-byte reproducible site, in seconds.

These are properties of the pipeline, not of the content: only content tests need the real site (``built_site``).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from support import PYTHON, ROOT, SOURCE_DATE_EPOCH
from support_site import FIXTURE_FIGURE, FIXTURE_NOTEBOOK, FIXTURE_SITE, fixture_env


@pytest.fixture(scope="module")
def fixture_builds(tmp_path_factory) -> list[tuple[Path, str]]:
    """Two strict builds of the fixture site, side by side in two processes, each from its own cold cache."""
    root = tmp_path_factory.mktemp("fixture")
    started = []
    for name in ("a", "b"):
        site = root / f"site-{name}"
        env = {**os.environ, **fixture_env(root / f"cache-{name}"), "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
        config = str(FIXTURE_SITE / "mkdocs.yml")
        command = [PYTHON, "-m", "mkdocs", "build", "--strict", "--config-file", config, "--site-dir", str(site)]
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        started.append((site, process))
    builds = []
    for site, process in started:
        log, _ = process.communicate(timeout=600)
        assert process.returncode == 0, log[-4000:]
        builds.append((site, log))
    return builds


def test_strict_build_has_no_warning(fixture_builds):
    for _, log in fixture_builds:
        assert not [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line], log[-3000:]


def test_the_figure_hook_publishes_both_languages_and_the_pages_show_their_own(fixture_builds):
    site, _ = fixture_builds[0]
    ko, en = (site / "figures" / f"{FIXTURE_FIGURE}{suffix}.svg" for suffix in ("", ".en"))
    assert ko.read_bytes().startswith(b"<?xml") and en.read_bytes().startswith(b"<?xml")
    assert ko.read_bytes() != en.read_bytes(), "the label texts differ between the languages"
    assert f"figures/{FIXTURE_FIGURE}.svg" in (site / "figure" / "index.html").read_text(encoding="utf-8")
    assert f"figures/{FIXTURE_FIGURE}.en.svg" in (site / "en" / "figure" / "index.html").read_text(encoding="utf-8")
    assert (site / "assets" / "katex" / "katex.min.js").is_file(), "the hook self-hosts KaTeX"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_notebook_hook_renders_the_executed_notebook_with_its_download(fixture_builds, lang):
    site, _ = fixture_builds[0]
    folder = site / ("en" if lang == "en" else "") / "notebooks" / FIXTURE_NOTEBOOK
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "jp-OutputArea-output" in html and "first/last = 18.17" in html, "rendered with the executed outputs"
    images = re.findall(r"<img\b[^>]*>", html)
    assert images and all(re.search(r'\balt="[^"]{20,}"', i) and "data:image/png;base64," in i for i in images), images
    assert 'id="cell-id=cell-00"' in html, "deterministic cell ids"
    assert all(re.findall(r'<h[1-6] id="([^"]*)"', html)), "every heading has a real slug"
    download = (folder / f"{FIXTURE_NOTEBOOK}.ipynb").read_text(encoding="utf-8")
    assert '"output_type": "stream"' in download, "the download carries the outputs shown"


def test_two_builds_with_the_same_source_date_epoch_are_identical(fixture_builds):
    """Separate processes and separate cold caches: figure data, SVGs, executed notebooks and pages alike."""
    (first, _), (second, _) = fixture_builds
    a = {p.relative_to(first): p.read_bytes() for p in first.rglob("*") if p.is_file()}
    b = {p.relative_to(second): p.read_bytes() for p in second.rglob("*") if p.is_file()}
    assert a.keys() == b.keys()
    differing = sorted(str(k) for k in a if a[k] != b[k])
    assert not differing, f"differ between builds: {differing[:5]}"
    assert "<lastmod>2026-01-01</lastmod>" in (first / "sitemap.xml").read_text(encoding="utf-8"), "epoch not used"


def test_the_build_writes_nothing_into_the_tree(fixture_builds):
    assert not list(FIXTURE_SITE.rglob("__pycache__")), "bytecode written beside the fixture's figures"
    assert not (FIXTURE_SITE / "site").exists() and not (FIXTURE_SITE / ".cache").exists()


class _Loader(yaml.SafeLoader):
    """mkdocs.yml carries python/object tags (the slugify callables): read them as None."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def _config(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - SafeLoader subclass


def _plugins(config: dict) -> list[str]:
    return [next(iter(p)) if isinstance(p, dict) else p for p in config["plugins"]]


def test_the_fixture_exercises_the_real_sites_hooks_theme_and_plugins():
    """What the fixture proves holds for the real site only if both are wired the same way."""
    real, fixture = _config(ROOT / "mkdocs.yml"), _config(FIXTURE_SITE / "mkdocs.yml")
    resolve = {  # paths in a mkdocs.yml are relative to its folder
        "real": lambda rel: (ROOT / rel).resolve(),
        "fixture": lambda rel: (FIXTURE_SITE / rel).resolve(),
    }
    assert [resolve["real"](h) for h in real["hooks"]] == [resolve["fixture"](h) for h in fixture["hooks"]]
    assert resolve["real"](real["theme"]["custom_dir"]) == resolve["fixture"](fixture["theme"]["custom_dir"])
    assert _plugins(real) == _plugins(fixture)
    jupyter = [
        p["mkdocs-jupyter"]
        for c in (real, fixture)
        for p in c["plugins"]
        if isinstance(p, dict) and "mkdocs-jupyter" in p
    ]
    assert jupyter[0] == jupyter[1], "mkdocs-jupyter renders both sites the same way"
    i18n = [
        {k: v for k, v in p["i18n"].items() if k != "languages"}
        for c in (real, fixture)
        for p in c["plugins"]
        if isinstance(p, dict) and "i18n" in p
    ]
    assert i18n[0] == i18n[1]
    # test_serve edits the package and a figure of the fixture: the real site must watch the same two folders.
    watched = {resolve["real"](w) for w in real["watch"]}
    assert {ROOT / "gradnotes", ROOT / "figures"} <= watched
    assert {resolve["fixture"](w) for w in fixture["watch"]} == {ROOT / "gradnotes", FIXTURE_SITE / "figures"}
