"""The borders between the four products, as tests: who may import whom (read from the AST and at run time)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gradnotes"


def imports(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (lazy imports inside functions count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from gradnotes.site import style" imports the module gradnotes.site.style; "from x import name", x
            submodules = [
                f"{node.module}.{alias.name}" for alias in node.names if _is_module(f"{node.module}.{alias.name}")
            ]
            found.update(submodules if len(submodules) == len(node.names) else [node.module, *submodules])
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def offending(folder: Path, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for path in files(folder):
        for module in sorted(imports(path)):
            hit = any(module == f or module.startswith(f + ".") for f in forbidden)
            if hit and not any(module == a or module.startswith(a + ".") for a in allowed):
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    return bad


def test_the_engine_imports_neither_matplotlib_nor_mkdocs_nor_another_product():
    forbidden = ("matplotlib", "mkdocs", "gradnotes.site", "gradnotes.diagnose", "gradnotes.experiments", "hooks")
    assert offending(PACKAGE / "engine", forbidden) == []


def test_theory_imports_no_simulator():
    from gradnotes import keys

    theory = PACKAGE / "engine" / "theory.py"
    closure = {p.name for p in keys.dependencies(theory.read_text(encoding="utf-8"))}
    assert "sim.py" not in closure and "cache.py" not in closure, closure


def test_experiments_draw_nothing_and_know_no_site():
    assert offending(PACKAGE / "experiments", ("matplotlib", "mkdocs", "gradnotes.site", "gradnotes.diagnose")) == []


def test_diagnose_takes_only_style_and_labels_from_the_site():
    allowed = ("gradnotes.site.style", "gradnotes.site.labels")
    assert offending(PACKAGE / "diagnose", ("gradnotes.site", "mkdocs", "gradnotes.experiments"), allowed) == []


def test_nothing_in_the_package_imports_the_hooks_and_the_hooks_never_import_the_package():
    assert offending(PACKAGE, ("hooks",)) == []
    assert offending(ROOT / "hooks", ("gradnotes",)) == []


def test_figures_take_their_numbers_from_the_engine_or_experiments_never_from_diagnose():
    assert offending(ROOT / "figures", ("gradnotes.diagnose", "mkdocs")) == []


@pytest.mark.parametrize(
    "modules, absent",
    [
        (
            ["gradnotes.engine.sim", "gradnotes.engine.theory", "gradnotes.engine.cache", "gradnotes.engine.cli"],
            ["matplotlib", "mkdocs", "gradnotes.site", "sklearn"],
        ),
        (["gradnotes", "gradnotes.__main__"], ["torch", "matplotlib", "mkdocs"]),
        (["gradnotes.diagnose"], ["torch", "matplotlib"]),
    ],
)
def test_what_an_import_loads_at_run_time(modules, absent):
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(','.join(a for a in {absent!r} if a in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, text=True, capture_output=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"importing {modules} also loaded {done.stdout.strip()}"
