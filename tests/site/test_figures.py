"""The figure pipeline: every figure's claim, both languages, determinism, caching and its failure modes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap

import pytest
from support import PYTHON, ROOT, run

from gradnotes import paths
from gradnotes.errors import FigureError, UserError
from gradnotes.site import gallery as figures
from gradnotes.site.labels import GLOSSARY, LANGS, t

FIGURE_IDS = figures.discover()
HANGUL = re.compile("[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def figure_data() -> dict[str, dict]:
    """Each figure's data through the repository cache (computed once if cold)."""
    return {figure_id: figures.compute_data(figure_id) for figure_id in FIGURE_IDS}


def test_at_least_one_figure_is_registered():
    assert "activation_functions" in FIGURE_IDS


@pytest.mark.parametrize("figure_id", FIGURE_IDS)
def test_figure_claim_holds_on_the_data_it_draws(figure_id, figure_data):
    figures.check_claim(figure_id, figure_data[figure_id])


@pytest.mark.parametrize("figure_id", FIGURE_IDS)
def test_figure_has_one_line_docstring(figure_id):
    doc = figures.summary(figure_id)
    assert 10 < len(doc) < 200


@pytest.mark.parametrize("figure_id", FIGURE_IDS)
def test_figure_renders_in_both_languages_with_localised_text(figure_id):
    """The SVGs the site publishes, brought up to date by the build (a no-op after the site build: no re-rendering)."""
    figures.build([figure_id], progress=False)
    ko, en = (figures.published()[figure_id][lang].read_bytes() for lang in ("ko", "en"))
    assert ko.startswith(b"<?xml") and en.startswith(b"<?xml")
    assert ko != en, "the Korean and English variants must differ (localised labels)"
    # Text is drawn as paths: no <text> elements, and no font is needed by the reader's browser.
    assert b"<text" not in ko and b"<text" not in en
    assert len(ko) < 400_000 and len(en) < 400_000


def test_korean_figure_text_is_drawn_with_the_korean_font():
    from gradnotes.site import style

    fig = style.figure()
    fig.text(0.1, 0.5, "기울기 소실")
    svg = style.save_svg(fig)
    # NanumGothic glyphs are stored as path definitions whose ids name the font.
    assert b"NanumGothic" in svg


def test_a_missing_glyph_is_an_error_not_a_log_line():
    from gradnotes.site import style

    fig = style.figure()
    fig.text(0.1, 0.5, "\U0001d11e\u0f00")  # musical symbol and Tibetan: in neither DejaVu nor NanumGothic
    with pytest.raises(ValueError, match="missing glyph"):
        style.save_svg(fig)


def test_missing_korean_font_is_a_clear_error(monkeypatch):
    from gradnotes.site import style

    monkeypatch.setattr(style.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match="pip install koreanize-matplotlib"):
        style.korean_font_path()


def test_an_installed_font_package_without_its_font_says_reinstall(monkeypatch, tmp_path):
    import importlib.machinery

    from gradnotes.site import style

    fake = tmp_path / "koreanize_matplotlib" / "__init__.py"
    fake.parent.mkdir()
    fake.write_text("")
    spec = importlib.machinery.ModuleSpec("koreanize_matplotlib", None, origin=str(fake))
    monkeypatch.setattr(style.importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(UserError, match="is installed but .* is missing: pip install --force-reinstall"):
        style.korean_font_path()


def test_labels_exist_in_every_language():
    for key, entry in GLOSSARY.items():
        assert set(entry) == set(LANGS), key
        assert not HANGUL.search(entry["en"]), f"Korean text in the English label {key!r}"
    with pytest.raises(KeyError):
        t("no_such_label", "ko")
    with pytest.raises(KeyError):
        t("layer", "fr")


# One figure of each kind: the engine's simulator (through its result cache) and a training run on digits.
DETERMINISM_FIGURES = ("residual_depth", "bn_learning_rate")


def test_builds_in_separate_processes_are_byte_identical(tmp_path):
    """Two cold builds (fresh caches, separate processes, side by side) of an engine and a training figure give the
    same bytes: data, SVGs and manifest."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "GRADNOTES_JOBS": "1"}
    command = [PYTHON, "-m", "gradnotes", "build", "--quiet", "--only", ",".join(DETERMINISM_FIGURES)]
    builds = {
        name: subprocess.Popen(
            command, cwd=ROOT, env={**env, "GRADNOTES_CACHE": str(tmp_path / name)}, stderr=subprocess.PIPE, text=True
        )
        for name in ("a", "b")
    }
    for process in builds.values():
        _, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr
    outputs = [
        {p.relative_to(tmp_path / name).as_posix(): p.read_bytes() for p in sorted((tmp_path / name).rglob("*.*"))}
        for name in builds
    ]
    svgs = {f"figures/{i}.{lang}.svg" for i in DETERMINISM_FIGURES for lang in LANGS}
    data = {f"data/{i}.json" for i in DETERMINISM_FIGURES}
    assert svgs | data | {"figures/manifest.json"} <= outputs[0].keys()
    assert outputs[0].keys() == outputs[1].keys()
    differing = sorted(k for k in outputs[0] if outputs[0][k] != outputs[1][k] and not k.endswith(".lock"))
    assert not differing, differing


def test_warm_build_does_no_work_and_corrupt_entries_are_rebuilt(isolated_cache, capsys):
    first = figures.build(["activation_functions"], progress=False)
    assert first.computed == 1 and first.rendered == 2 and len(first.changed) == 2
    warm = figures.build(["activation_functions"], progress=False)
    assert (warm.computed, warm.rendered, warm.changed) == (0, 0, [])

    svg = paths.published_figures_dir() / "activation_functions.ko.svg"
    good = svg.read_bytes()
    svg.write_bytes(good[: len(good) // 2])  # a truncated published file
    again = figures.build(["activation_functions"], progress=False)
    assert again.rendered == 1 and svg.read_bytes() == good

    data_file = isolated_cache / "data" / "activation_functions.json"
    envelope = json.loads(data_file.read_text())
    envelope["payload"]["x"][0] = 123.0  # silently altered data: the checksum no longer matches
    data_file.write_text(json.dumps(envelope))
    data = figures.compute_data("activation_functions")
    assert data["x"][0] == -6.0
    assert "corrupt" in capsys.readouterr().err
    data_file.write_text("{not json")
    assert figures.compute_data("activation_functions")["x"][0] == -6.0


def _write_figure(folder, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


GOOD_FIGURE = '''
    """A tiny figure used by the tests."""
    from gradnotes.site import style

    def compute():
        return {"y": [1.0, 2.0, float("inf")]}

    def draw(data, lang):
        fig = style.figure()
        fig.subplots().plot([0, 1], data["y"][:2])
        return fig

    def check(data):
        assert data["y"][2] == float("inf"), "overflow is data"
'''


def test_failed_claim_stops_the_build_naming_figure_and_claim(isolated_cache, scratch_figures):
    _write_figure(scratch_figures, "ok_figure", GOOD_FIGURE)
    _write_figure(scratch_figures, "false_claim", GOOD_FIGURE.replace('== float("inf")', "< 0"))
    with pytest.raises(FigureError, match=r"'false_claim'.*claim failed: overflow is data"):
        figures.build(progress=False)
    assert not (paths.published_figures_dir() / "false_claim.ko.svg").exists()
    assert (paths.published_figures_dir() / "ok_figure.ko.svg").is_file()


def test_raising_figure_fails_cli_with_one_line_and_no_file(isolated_cache, scratch_figures):
    raising = GOOD_FIGURE.replace('return {"y"', 'raise RuntimeError("boom")\n        return {"y"')
    _write_figure(scratch_figures, "broken", raising)
    done = run([PYTHON, "-m", "gradnotes", "build", "--quiet"])
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "'broken'" in lines[0] and "boom" in lines[0] and "Traceback" not in done.stderr
    assert not list((isolated_cache / "figures").glob("broken*.svg"))


def test_deleted_figure_is_unpublished(isolated_cache, scratch_figures):
    _write_figure(scratch_figures, "gone", GOOD_FIGURE)
    figures.build(progress=False)
    assert (paths.published_figures_dir() / "gone.en.svg").is_file()
    (scratch_figures / "gone.py").unlink()
    figures.build(progress=False)
    assert not (paths.published_figures_dir() / "gone.en.svg").exists()
    assert "gone" not in figures.published()
