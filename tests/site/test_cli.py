"""The command line: listing, building one figure, and one-line errors with exit status 2."""

from __future__ import annotations

from support import PYTHON, ROOT, run


def test_list_names_every_figure_with_its_summary():
    done = run([PYTHON, "-m", "gradnotes", "list"])
    assert done.returncode == 0, done.stderr
    assert "activation_functions" in done.stdout and "derivatives" in done.stdout


def test_unknown_figure_id_is_one_line_listing_valid_ids(isolated_cache):
    for args in (["build", "--only", "nosuch"], ["build", "nosuch"]):
        done = run([PYTHON, "-m", "gradnotes", *args])
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert "nosuch" in lines[0] and "activation_functions" in lines[0]
    assert not (isolated_cache / "figures" / "nosuch.ko.svg").exists()


def test_usage_errors_are_one_line():
    for args in (["nosuchcommand"], ["build", "--lang", "fr"], []):
        done = run([PYTHON, "-m", "gradnotes", *args])
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr


def test_console_script_is_installed():
    done = run([str(ROOT / ".venv" / "bin" / "gradnotes"), "--help"]) if (ROOT / ".venv").exists() else None
    if done is not None:
        assert done.returncode == 0 and "build" in done.stdout


def test_figure_script_regenerates_that_one_figure(isolated_cache):
    done = run([PYTHON, "figures/activation_functions.py"])
    assert done.returncode == 0, done.stderr
    assert "activation_functions.ko.svg (written)" in done.stdout
    assert sorted(p.name for p in (isolated_cache / "figures").glob("*.svg")) == [
        "activation_functions.en.svg",
        "activation_functions.ko.svg",
    ]
    again = run([PYTHON, "figures/activation_functions.py"])
    assert "(unchanged)" in again.stdout
