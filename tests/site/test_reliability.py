"""Nothing broken is ever published: garbled SVGs, concurrent builds, truncated notebooks, a killed build, a failed
claim (each reproduced on toy figures in a scratch folder, never on the repository's cache)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TOY = '''
"""A toy figure for the reliability tests ({name})."""

import time

LABELS = {{"title": {{"ko": "장난감 {name}", "en": "toy {name}"}}}}


def compute():
    time.sleep({sleep})
    return {{"y": [1.0, 2.0, 3.0], "ratio": -12.1}}


def draw(data, lang):
    from gradnotes.site import style
    from gradnotes.site.labels import translator

    t = translator(LABELS)
    fig = style.figure()
    ax = fig.subplots()
    ax.plot(data["y"])
    ax.set_title(t("title", lang))
    return fig


def check(data):
    assert data["y"][0] == 1.0, "the toy line starts at 1"
'''


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> dict[str, Path]:
    figures, cache = tmp_path / "figures", tmp_path / "cache"
    figures.mkdir()
    monkeypatch.setenv("GRADNOTES_FIGURES_DIR", str(figures))
    monkeypatch.setenv("GRADNOTES_CACHE", str(cache))
    return {"figures": figures, "cache": cache}


def toy(folder: Path, name: str, sleep: float = 0.0) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(TOY.format(name=name, sleep=sleep)), encoding="utf-8")


def gradnotes(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "gradnotes", *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_concurrent_builds_of_different_figures_keep_both_and_an_incomplete_manifest_is_repaired(scratch):
    from gradnotes.site import gallery

    toy(scratch["figures"], "toy_a", sleep=1.5)
    toy(scratch["figures"], "toy_b", sleep=1.5)
    first, second = gradnotes("build", "--only", "toy_a", "--quiet"), gradnotes("build", "--only", "toy_b", "--quiet")
    assert first.wait(120) == 0 and second.wait(120) == 0, (first.stderr.read(), second.stderr.read())
    manifest = json.loads((scratch["cache"] / "figures" / "manifest.json").read_text())
    assert set(manifest["figures"]) == {"toy_a", "toy_b"}, "neither build dropped the other's figure"
    # a manifest that lost an entry (an old build's bug, a hand edit) is repaired by the next build
    del manifest["figures"]["toy_b"]
    (scratch["cache"] / "figures" / "manifest.json").write_text(json.dumps(manifest))
    report = gallery.build(progress=False, jobs=1)
    assert report.computed == 0 and report.rendered == 2
    assert set(gallery.published()) == {"toy_a", "toy_b"}


def _load_hook():
    spec = importlib.util.spec_from_file_location("gradnotes_test_figures_hook", ROOT / "hooks" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_garbled_published_svg_is_rebuilt_even_when_the_inputs_stamp_is_current(scratch):
    pytest.importorskip("mkdocs")
    hook = _load_hook()
    toy(scratch["figures"], "toy_a")
    hook.on_pre_build(None)  # builds the figure and writes the inputs' stamp
    svg = scratch["cache"] / "figures" / "toy_a.en.svg"
    good = svg.read_bytes()
    svg.write_bytes(good[: len(good) // 2] + b"garbage")
    assert hook._damaged(hook._manifest()) == ["toy_a.en.svg"]
    hook.on_pre_build(None)  # the stamp is current; the published bytes are not
    assert svg.read_bytes() == good


def test_a_truncated_executed_notebook_is_not_current(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADNOTES_CACHE", str(tmp_path / "cache"))
    from gradnotes.site import notebooks

    source = notebooks.sources()[0]
    target = notebooks.executed_path(source)
    text = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text)
    notebooks._write_stamp(source, text)
    assert notebooks.is_current(source)
    target.write_bytes(text[:20])  # a build killed mid-write, a disk that filled up
    assert not notebooks.is_current(source), "a damaged copy is re-executed, never published"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_build_workers_die_with_a_killed_build(scratch, monkeypatch):
    toy(scratch["figures"], "toy_a", sleep=60)
    toy(scratch["figures"], "toy_b", sleep=60)
    monkeypatch.setenv("GRADNOTES_JOBS", "2")
    build = gradnotes("build", "--quiet")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_children(build.pid)) < 3:  # two workers and the resource tracker
        time.sleep(0.2)
    children = _children(build.pid)
    assert len(children) >= 2, "the build started its workers"
    os.kill(build.pid, signal.SIGKILL)  # what the OOM killer does
    build.wait(10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(Path(f"/proc/{c}").exists() for c in children):
        time.sleep(0.2)
    alive = [c for c in children if Path(f"/proc/{c}").exists()]
    for c in alive:
        os.kill(c, signal.SIGKILL)
    assert alive == [], "no orphaned worker holds memory after its build was killed"


def test_a_failed_claim_names_the_claim_and_the_measured_value(scratch):
    from gradnotes.errors import FigureError
    from gradnotes.site import gallery

    source = TOY.format(name="toy_c", sleep=0).replace(
        '    assert data["y"][0] == 1.0, "the toy line starts at 1"',
        '    sig = {"none": data["ratio"]}\n    assert sig["none"] < -15, "sigmoid vanishes by over 15 decades"',
    )
    (scratch["figures"] / "toy_c.py").write_text(textwrap.dedent(source), encoding="utf-8")
    with pytest.raises(FigureError) as failure:
        gallery.build(["toy_c"], progress=False, jobs=1)
    message = str(failure.value)
    assert "sigmoid vanishes by over 15 decades" in message
    assert "measured: sig['none'] = -12.1 (asserted < -15)" in message
    assert not (scratch["cache"] / "figures" / "toy_c.en.svg").exists(), "a failed claim publishes nothing"


def test_no_page_names_a_third_party_origin_in_its_html(built_site):
    """Not a request in the browser only: no script, style or module import that could reach another origin, even
    one that runs conditionally (nbconvert's mermaid loader imports from cdnjs when a page has a diagram)."""
    import re

    from support_site import site_url

    site, _ = built_site
    own = site_url().split("/")[2]  # the site's own host: its canonical and alternate links are not fetches
    fetches = re.compile(
        r"""(?:<script[^>]+src=|<link[^>]+href=|import\(|@import\s+(?:url\()?)["']?(?:https?:)?//([^/"'\s)]+)"""
    )
    offenders = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{page.relative_to(site)}: {m.group(0)}" for m in fetches.finditer(text) if m.group(1) != own]
        if "cdnjs" in text:
            offenders.append(f"{page.relative_to(site)}: mentions cdnjs")
    assert offenders == []
