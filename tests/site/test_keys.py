"""One content key: what an edit invalidates, tested on a temporary copy of the tree (never the repository itself)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYS_SCRIPT = """
import json
from gradnotes.site import gallery
print(json.dumps({f: gallery.data_key(f) for f in gallery.discover()}))
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and the figures (what the keys read), with its own cache."""
    copy = tmp_path / "tree"
    for name in ("gradnotes", "figures"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _run(tree: Path, code: str) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "PYTHONDONTWRITEBYTECODE": "1",
        "GRADNOTES_CACHE": str(tree / ".cache"),
    }
    env.pop("GRADNOTES_FIGURES_DIR", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, text=True, capture_output=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def data_keys(tree: Path) -> dict[str, str]:
    return json.loads(_run(tree, KEYS_SCRIPT))


def edit(path: Path) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")


def changed_after(tree: Path, relative: str) -> set[str]:
    before = data_keys(tree)
    edit(tree / relative)
    after = data_keys(tree)
    assert before.keys() == after.keys()
    return {f for f in before if before[f] != after[f]}


def sources(tree: Path) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((tree / "figures").glob("[!_]*.py"))}


def imports_of(source: str) -> set[str]:
    """Module names a figure imports (``from a.b import c`` gives a.b and a.b.c)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def engine_figures(tree: Path) -> set[str]:
    """Figures that simulate networks: they import the engine's cache or simulator, or the protocol helpers."""
    engine = {"gradnotes.engine.cache", "gradnotes.engine.sim", "_protocol"}
    return {f for f, src in sources(tree).items() if imports_of(src) & engine}


def experiment_figures(tree: Path) -> set[str]:
    return {
        f for f, src in sources(tree).items() if any(m.startswith("gradnotes.experiments") for m in imports_of(src))
    }


@pytest.mark.parametrize(
    "module",
    [
        "gradnotes/diagnose/measure.py",
        "gradnotes/diagnose/__init__.py",
        "gradnotes/site/style.py",
        "gradnotes/site/labels.py",
        "gradnotes/site/gallery.py",
        "gradnotes/engine/cli.py",
        "gradnotes/engine/bench.py",
    ],
)
def test_presentation_diagnose_and_cli_edits_recompute_no_figure_data(tree, module):
    assert changed_after(tree, module) == set()


def test_a_simulator_edit_recomputes_exactly_the_engine_figures(tree):
    expected = engine_figures(tree)
    assert {"vanishing_exploding", "init_grid", "bn_depth_gradients"} <= expected
    changed = changed_after(tree, "gradnotes/engine/sim.py")
    assert changed == expected
    assert not changed & (experiment_figures(tree) - expected), "digits trainings never call the simulator"


def test_an_experiment_edit_recomputes_only_the_figures_that_import_it(tree):
    importers = {f for f, src in sources(tree).items() if any("stacked" in m for m in imports_of(src))}
    assert importers, "some figure trains a stacked MLP"
    changed = changed_after(tree, "gradnotes/experiments/stacked.py")
    assert importers <= changed <= experiment_figures(tree)
    assert not changed & engine_figures(tree)


def test_a_helper_edit_recomputes_only_its_users(tree):
    users = {f for f, src in sources(tree).items() if "_protocol" in imports_of(src)}
    assert changed_after(tree, "figures/_protocol.py") == users


def test_editing_one_figure_recomputes_that_figure_only(tree):
    assert changed_after(tree, "figures/init_grid.py") == {"init_grid"}


def test_a_label_edit_rerenders_that_figure_only_and_recomputes_nothing(tree):
    figures = tree / "figures"
    with_labels = [p.stem for p in sorted(figures.glob("[!_]*.py")) if "LABELS = {" in p.read_text(encoding="utf-8")]
    assert with_labels, "figures keep their own labels beside their code"
    cheap = [f for f in ("activation_functions", "init_distributions") if (figures / f"{f}.py").is_file()]
    target = next((f for f in cheap if f in with_labels), None)
    if target is None:
        pytest.skip(f"neither of {cheap} has its own LABELS yet")
    other = next(f for f in cheap if f != target)
    build = (
        "import json\nfrom gradnotes.site import gallery\n"
        f"r = gallery.build({[target, other]!r}, progress=False, jobs=1)\n"
        "print(json.dumps([r.computed, r.rendered, sorted(p.name for p in r.changed)]))"
    )
    first = json.loads(_run(tree, build))
    assert first[:2] == [2, 4]
    assert json.loads(_run(tree, build)) == [0, 0, []], "a warm build does nothing"
    # change one text of the figure's own LABELS (the first entry's English)
    path = figures / f"{target}.py"
    source = path.read_text(encoding="utf-8")
    node = next(
        n
        for n in ast.parse(source).body
        if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "LABELS" for t in n.targets)
    )
    labels = ast.literal_eval(node.value)
    key = next(iter(labels))
    old = labels[key]["en"]
    path.write_text(source.replace(old, old + " (edited)", 1), encoding="utf-8")
    again = json.loads(_run(tree, build))
    assert again[0] == 0, "a label is no input of the data"
    assert again[1] >= 1 and set(again[2]) <= {f"{target}.en.svg", f"{target}.ko.svg"}
    assert f"{target}.en.svg" in again[2]
