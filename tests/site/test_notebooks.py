"""The notebooks: paired languages, executed without error, saying what their text says, deterministic, light pages."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from support import PYTHON, ROOT, run

from gradnotes import keys, paths
from gradnotes.site import notebooks

DOCS = ROOT / "docs"
SITE_URL = "https://gradnotes.github.io/gradnotes/"
TOPICS = ["vanishing-exploding", "activations", "initialization", "batch-normalization", "layer-normalization"]
MAX_PAGE_BYTES = 800_000
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def korean_sources() -> list[Path]:
    return [s for s in notebooks.sources() if notebooks.language(s) == "ko"]


def code_without_comments(source: Path) -> list[str]:
    """Code cells with comments and the LANG line removed: what must be identical in both languages."""
    cells = []
    for cell in notebooks.read(source).cells:
        if cell.cell_type == "code":
            lines = [re.sub(r"\s*#.*$", "", line) for line in cell.source.splitlines()]
            cells.append("\n".join(line for line in lines if line and not line.startswith("LANG =")))
    return cells


# --- sources -------------------------------------------------------------------------------------------------------


def test_one_notebook_per_main_topic_in_both_languages():
    assert sorted(notebooks.topic(s) for s in korean_sources()) == sorted(TOPICS)
    assert sorted(notebooks.topic(s) for s in notebooks.sources() if notebooks.language(s) == "en") == sorted(TOPICS)


@pytest.mark.parametrize("topic", TOPICS)
def test_twins_run_the_same_code_and_link_their_page_and_download(topic):
    ko, en = DOCS / "notebooks" / f"{topic}.md", DOCS / "notebooks" / f"{topic}.en.md"
    assert code_without_comments(ko) == code_without_comments(en)
    for source, lang, page_url in ((ko, "ko", SITE_URL), (en, "en", SITE_URL + "en/")):
        nb = notebooks.read(source)
        assert nb.metadata["kernelspec"]["language"] == "python"
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        assert code[0].strip() == "# %pip install git+https://github.com/gradnotes/gradnotes"
        assert "style.apply()" in code[1] and f'LANG = "{lang}"' in code[1]
        text = source.read_text(encoding="utf-8")
        assert f'<a href="{topic}.ipynb" download>' in text, "the download link names the file the site publishes"
        assert f"]({page_url}{topic}/)" in text, "the notebook links back to its topic page"
        assert (DOCS / (f"{topic}.md" if lang == "ko" else f"{topic}.en.md")).is_file()
        assert nb.cells[-1].cell_type == "code", "it ends with the cell the reader is invited to change"
        headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
        assert headings[-1] == {"ko": "바꿔 보기", "en": "Try it"}[lang]


def test_cell_ids_are_deterministic_and_jupytext_metadata_is_dropped():
    source = korean_sources()[0]
    first, second = notebooks.read(source), notebooks.read(source)
    assert (
        [c.id for c in first.cells]
        == [c.id for c in second.cells]
        == [f"cell-{i:02d}" for i in range(len(first.cells))]
    )
    assert "jupytext" not in first.metadata


def test_dependencies_follow_imports_transitively():
    deps = {p.relative_to(ROOT).as_posix() for p in notebooks.dependencies(DOCS / "notebooks" / "initialization.md")}
    engine = {"gradnotes/engine/sim.py", "gradnotes/engine/spec.py", "gradnotes/engine/theory.py"}
    assert engine | {"gradnotes/site/style.py", "gradnotes/site/labels.py", "gradnotes/site/notebooks.py"} <= deps
    assert "gradnotes/errors.py" in deps  # imported by spec.py, not by the notebook itself
    assert "gradnotes/site/gallery.py" not in deps and not any(d.startswith("gradnotes/diagnose/") for d in deps)
    direct = keys.imported_modules(
        "%matplotlib inline\nfrom gradnotes.site import style, labels\nimport gradnotes.engine.sim"
    )
    assert {p.relative_to(ROOT).as_posix() for p in direct} == {
        "gradnotes/site/__init__.py",
        "gradnotes/site/style.py",
        "gradnotes/site/labels.py",
        "gradnotes/engine/__init__.py",
        "gradnotes/engine/sim.py",
    }


def test_streams_are_coalesced_and_figures_get_their_alt_text():
    import nbformat

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("plot()", metadata={"alt": "a falling line"})],
    )
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("stream", name="stdout", text="b\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBOR\n", "text/plain": "<Figure>"}),
    ]
    out = notebooks.attach_alt_text(notebooks.coalesce_streams(nb), DOCS / "notebooks" / "x.md")
    outputs = out.cells[0].outputs
    assert [o.output_type for o in outputs] == ["stream", "display_data"] and outputs[0].text == "a\nb\n"
    assert outputs[1].data["text/html"] == '<img src="data:image/png;base64,iVBOR" alt="a falling line">'
    nb.cells[0].metadata = {}
    nb.cells[0].outputs[1].data = {"image/png": "iVBOR"}
    with pytest.raises(notebooks.NotebookError, match="declares 0 alt"):
        notebooks.attach_alt_text(nb, DOCS / "notebooks" / "x.md")


def test_a_failing_cell_is_one_line_naming_the_notebook_and_exit_1(tmp_path, monkeypatch, isolated_cache):
    folder = tmp_path / "docs" / "notebooks"
    folder.mkdir(parents=True)
    (folder / "broken.md").write_text(
        "---\njupyter:\n  kernelspec:\n    display_name: Python 3\n    language: python\n    name: python3\n---\n\n"
        "# Broken\n\n```python\nx = 1\n```\n\n```python\nraise ValueError('no such layer')\n```\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(notebooks, "SOURCE_DIR", folder)
    monkeypatch.setattr(notebooks.paths, "ROOT", tmp_path)
    assert notebooks.main(["--quiet"]) == 1
    assert not (isolated_cache / "notebooks" / "ko" / "broken.ipynb").exists(), "a failed notebook is not published"


# --- execution (slow: about 20–60 s on two cores when the cache is cold) ------------------------------------------


@pytest.fixture(scope="session")
def executed() -> dict[tuple[str, str], dict]:
    """Every notebook as the site publishes it: brought up to date in the session's cache by the subprocess the build
    runs (a no-op once the site build has executed them; stale or damaged ones are re-executed), then read back:
    {(topic, lang): notebook}."""
    done = run([PYTHON, "-m", "gradnotes.site.notebooks"], env=THREADS)
    assert done.returncode == 0, done.stderr[-3000:]
    cache = paths.cache_dir()
    found = {(s, notebooks.language(s)): notebooks.executed_path(s) for s in notebooks.sources()}
    assert all(notebooks.is_current(s) for s, _ in found), "an executed notebook is stale after the build"
    return {
        (notebooks.topic(source), lang): json.loads(path.read_text(encoding="utf-8"))
        for (source, lang), path in found.items()
    } | {("_cache", "dir"): {"path": str(cache)}}


def outputs(nb: dict, kind: str) -> list[str]:
    """Per code cell, its stdout text (kind "stream") or its figures' alt texts (kind "alt"), in order."""
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        texts = []
        for output in cell.get("outputs", []):
            if kind == "stream" and output["output_type"] == "stream":
                texts.append("".join(output["text"]))
            if kind == "alt" and "text/html" in output.get("data", {}):
                texts.extend(re.findall(r'alt="([^"]+)"', "".join(output["data"]["text/html"])))
        found.append("".join(texts) if kind == "stream" else texts)
    return found


def ratios(text: str) -> dict[str, float]:
    """``name ... log10(first/last) = +1.2`` lines → {name: 1.2} (the name is the line's first words)."""
    found = {}
    for line in text.splitlines():
        match = re.search(r"^(.*?)\s+log10\(first/last\) = ([+-]\d+\.\d)", line)
        if match:
            found[" ".join(match.group(1).split()).removesuffix(" gradient").rstrip(",")] = float(match.group(2))
    return found


@pytest.mark.slow
def test_every_notebook_executes_without_error_and_every_figure_has_alt_text(executed):
    assert {(t, lang) for t in TOPICS for lang in ("ko", "en")} <= set(executed)
    for (topic, lang), nb in executed.items():
        if topic == "_cache":
            continue
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                assert output["output_type"] != "error", f"{topic} ({lang}) has an error output"
                assert output.get("name") != "stderr", f"{topic} ({lang}) wrote to stderr: {output.get('text')}"
                assert "image/png" not in output.get("data", {}), "every figure is an <img> with alt text"
        alts = [a for cell in outputs(nb, "alt") for a in cell]
        assert alts and all(len(a) > 20 for a in alts)
        source = DOCS / "notebooks" / (f"{topic}.md" if lang == "ko" else f"{topic}.en.md")
        assert "".join(nb["cells"][0]["source"]) == notebooks.read(source).cells[0].source


@pytest.mark.slow
def test_outputs_say_what_the_notebook_text_says(executed):
    for lang in ("ko", "en"):
        # vanishing-exploding: sigmoid vanishes, N(0,1) tanh explodes, the critical pairs stay flat; depth doubles it
        at30, at60 = (ratios(t) for t in outputs(executed["vanishing-exploding", lang], "stream")[2:4])
        assert at30["sigmoid xavier_normal"] < -10 and at30["tanh standard_normal"] > 5
        assert abs(at30["tanh xavier_normal"]) < 1 and abs(at30["relu he_normal"]) < 1
        for case in ("sigmoid xavier_normal", "tanh standard_normal"):
            assert 1.7 < at60[case] / at30[case] < 2.3

        # activations: σ′ ≤ 1/4; with Xavier ReLU loses gradient, with He it is flat and the sigmoid still vanishes
        stream = outputs(executed["activations", lang], "stream")
        assert "sigmoid    largest derivative = 0.250" in stream[2]
        xavier, he = ratios(stream[3]), ratios(stream[4])
        assert xavier["sigmoid"] < -5 and xavier["relu"] < -1 and xavier["sigmoid"] < xavier["tanh"] < 0
        assert abs(he["relu"]) < 0.5 and abs(he["leaky_relu"]) < 0.5 and he["sigmoid"] < -5

        # initialization: ReLU+Xavier falls exponentially, ReLU+He stays, tanh+Xavier declines slowly; default is worse
        stream = outputs(executed["initialization", lang], "stream")
        last = {
            " ".join(m.group(1).split()): float(m.group(2))
            for m in re.finditer(r"^(\w+\s+\w+)\s+E\[h²\]: layer 1 = \S+, layer 30 = (\S+)$", stream[2], re.M)
        }
        assert last["relu xavier_normal"] < 1e-6 and last["relu he_normal"] > 0.1
        assert 1e-3 < last["tanh xavier_normal"] < 0.1
        assert "relu  torch_default" in stream[3]
        torch_default = float(re.search(r"torch_default .* layer 30 = (\S+)", stream[3]).group(1))
        assert torch_default < last["relu xavier_normal"]

        # batch normalization: every init gives E[h²] ≈ ½ and the same gradient growth, which doubles with depth
        for text, depth in ((outputs(executed["batch-normalization", lang], "stream")[2], 30),) + (
            (outputs(executed["batch-normalization", lang], "stream")[3], 60),
        ):
            rows = re.findall(rf"^(\w+)\s+(\w+)\s+E\[h²\] at layer {depth} = (\S+), gradient .* = (\S+)$", text, re.M)
            assert len(rows) == 10
            bn = [(float(scale), float(ratio)) for norm, _, scale, ratio in rows if norm == "batchnorm"]
            none = [float(scale) for norm, _, scale, _ in rows if norm == "none"]
            assert all(0.4 < scale < 0.6 for scale, _ in bn) and max(none) / min(none) > 1e10
            assert all(ratio > (1.5 if depth == 30 else 3.5) for _, ratio in bn)

        # layer normalization: one sample's LN output never moves, BN's does; BN's gradient grows, more at batch 4
        stream = outputs(executed["layer-normalization", lang], "stream")
        spread = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in stream[2].splitlines()}
        assert spread["layernorm"] == [0.0] * 6 and spread["batchnorm"] == sorted(spread["batchnorm"], reverse=True)
        at64, at4 = ratios(stream[3]), ratios(stream[4])
        assert at64["batchnorm"] > 1 and abs(at64["layernorm"]) < 0.5 and abs(at64["none"]) < 0.5
        assert at4["batchnorm"] > at64["batchnorm"] and abs(at4["layernorm"]) < 0.5


RUN_IN_ONE_KERNEL = (
    "import sys; from pathlib import Path; from gradnotes.site import notebooks as n; "
    "n.build(force=True, only=[Path(a) for a in sys.argv[1:]], progress=False, jobs=1)"
)


@pytest.mark.slow
def test_execution_is_deterministic_and_independent_of_the_shared_kernel(executed, tmp_path):
    """One notebook executed alone in a fresh kernel, and after another one in a shared kernel (as the build runs
    them, ``%reset -f`` between): the same bytes, and the bytes the site publishes. Two processes, two fresh caches."""
    before = DOCS / "notebooks" / "initialization.en.md"  # its kernel is left with torch, seeds and rcParams set
    source = DOCS / "notebooks" / "layer-normalization.en.md"
    chunks = {"alone": [source], "shared": [before, source]}
    runs = {
        name: subprocess.Popen(
            [PYTHON, "-c", RUN_IN_ONE_KERNEL, *map(str, chunk)],
            cwd=ROOT,
            env={**os.environ, "GRADNOTES_CACHE": str(tmp_path / name), **THREADS},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, chunk in chunks.items()
    }
    for name, process in runs.items():
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, f"{name}: {output[-3000:]}"
    executed_file = Path("notebooks") / "en" / "layer-normalization.ipynb"
    alone, shared = ((tmp_path / name / executed_file).read_bytes() for name in chunks)
    assert alone == shared, "a notebook's outputs depend on what ran before it in the kernel"
    assert alone == (Path(executed["_cache", "dir"]["path"]) / executed_file).read_bytes(), "differs from the site's"


# --- the built site ------------------------------------------------------------------------------------------------


def _hook_configured() -> bool:
    hooks = re.search(r"^hooks:\n((?:[ \t]+- .*\n)+)", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M)
    return bool(hooks) and "hooks/notebooks.py" in hooks.group(1)


@pytest.mark.slow
@pytest.mark.skipif(not _hook_configured(), reason="mkdocs.yml does not list hooks/notebooks.py under hooks")
@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("topic", TOPICS)
def test_built_notebook_page_has_outputs_a_download_and_is_light(built_site, topic, lang):
    site, _ = built_site
    folder = site / ("en/" if lang == "en" else "") / "notebooks" / topic
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "jp-OutputArea-output" in html and "<img " in html, "rendered from the executed notebook, outputs included"
    assert "No description has been provided" not in html and 'alt="' in html
    assert "application/vnd.jupyter.stderr" not in html and "ansi-red" not in html, "no error output"
    assert not re.search(r'id="cell-id=(?!cell-\d\d")', html), "cell ids are the deterministic ones"
    heading_ids = re.findall(r'<h[1-6] id="([^"]*)"', html)
    assert heading_ids and all(heading_ids) and not any("%" in i for i in heading_ids), heading_ids
    toc = re.findall(r'<a href="#([^"]*)" class="md-nav__link"', html)
    assert toc and set(toc) <= set(heading_ids), "every TOC entry points at a heading"
    size = (folder / "index.html").stat().st_size
    assert size <= MAX_PAGE_BYTES, f"{folder}: {size} bytes"
    styles = re.findall(r"<style[^>]*>.*?</style>", html, flags=re.S)
    assert all(len(style) < 100_000 for style in styles), "the 575 KB JupyterLab stylesheet is not inlined"
    download = json.loads((folder / f"{topic}.ipynb").read_text(encoding="utf-8"))
    assert any(cell.get("outputs") for cell in download["cells"]), "the download carries the outputs shown"
    assert f'href="{topic}.ipynb"' in html
