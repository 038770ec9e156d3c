"""The engine's CLI: JSON shapes through an argparse harness, and user errors through `python -m gradnotes`."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradnotes.engine import cli as engine_cli
from gradnotes.engine.sim import METRICS
from gradnotes.engine.spec import ACTIVATIONS, INITS, NORMS
from gradnotes.errors import UserError
from gradnotes.paths import ROOT


@pytest.fixture(autouse=True)
def engine_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRADNOTES_CACHE", str(tmp_path))
    return tmp_path


def harness(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Parse like the main CLI does (register_cli on a subparsers object), run func, return (status, stdout)."""
    parser = argparse.ArgumentParser(prog="gradnotes")
    engine_cli.register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status = args.func(args)
    return status, capsys.readouterr().out


SMALL = ["--depth", "4", "--width", "16", "--batch", "8"]


def test_simulate_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = harness(
        ["simulate", "--activation", "relu", "--init", "he_normal", *SMALL, "--seeds", "0,1,2", "--json"], capsys
    )
    assert status == 0
    report = json.loads(out)
    assert report["spec"]["seeds"] == [0, 1, 2] and "seed" not in report["spec"]
    assert report["spec"]["loss"] == "random_projection" and report["spec"]["dtype"] == "float64"
    assert [row["seed"] for row in report["per_seed"]] == [0, 1, 2]
    for row in report["per_seed"]:
        for metric in METRICS:
            assert metric in row
        assert len(row["weight_grad_norm"]) == 4 and row["saturated_fraction"] is None
    for name in ("log10_ratio_weight_grad", "log10_ratio_preact_grad"):
        summary = report["summary"][name]
        per_seed = [row[name] for row in report["per_seed"]]
        assert summary["mean"] == pytest.approx(sum(per_seed) / 3)
        assert summary["std"] >= 0
        first = report["per_seed"][0]["weight_grad_norm"]
        if name == "log10_ratio_weight_grad":
            assert per_seed[0] == pytest.approx(math.log10(first[0] / first[-1]))


def test_simulate_table_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="gradnotes")
    engine_cli.register_cli(parser.add_subparsers(dest="command"))
    defaults = parser.parse_args(["simulate"])
    assert (defaults.depth, defaults.width, defaults.batch) == (30, 256, 256)
    assert defaults.seeds == (0, 1, 2, 3, 4) and defaults.norm == "none"
    assert defaults.loss == "random_projection" and defaults.dtype == "float64"
    status, out = harness(
        ["simulate", "--activation", "sigmoid", "--norm", "batchnorm", *SMALL, "--seeds", "0", "--no-cache"], capsys
    )
    assert status == 0
    assert "saturated" in out and "log10_ratio_weight_grad" in out
    assert len([line for line in out.splitlines() if line.strip().split(" ")[0].isdigit()]) == 4


def test_theory_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = harness(["theory", "--activation", "tanh", "--init", "xavier_normal", *SMALL, "--json"], capsys)
    assert status == 0
    report = json.loads(out)
    theory = report["theory"]
    assert len(theory["q"]) == 4 and theory["sigma_w2"] == pytest.approx(1.0)
    assert "log10_ratio_weight_grad" in theory and "log10_ratio_preact_grad" in theory
    status, out = harness(["theory", "--activation", "relu", "--init", "he_uniform", *SMALL], capsys)
    assert "chi" in out


def test_user_errors_come_from_spec_validation(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UserError, match="valid: sigmoid, tanh"):
        harness(["simulate", "--activation", "swish", *SMALL], capsys)
    with pytest.raises(UserError, match="theory covers norm = none"):
        harness(["theory", "--norm", "layernorm", *SMALL], capsys)


def test_bench_quick_reports_rates(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # structure only: a benchmark, never a timed assertion; shrink the reference timing loop
    from gradnotes.engine import bench

    real = bench.reference_rate
    monkeypatch.setattr(bench, "reference_rate", lambda *a, **k: real(*a, **{**k, "seconds": 0.05}))
    monkeypatch.setattr(bench, "cores", lambda: 1)  # no worker processes to spawn in a structure test
    status, out = harness(["bench", "--quick", "--json"], capsys)
    report = json.loads(out)
    assert status == 0 and report["runs"] == 4 * 6 * 3 * 2
    assert report["wall_seconds"] > 0 and report["cpu_seconds"] > 0 and report["ratio"] > 0
    # the reference is the best of the ways the machine can run bmm with all its cores, not one thread's rate
    ways = report["reference"]
    assert report["reference_bmm_gflops"] == max(ways.values()) == ways["best"]
    assert {"one_thread", "threads"} <= set(ways) and report["workers"] >= 1


def _gradnotes(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "gradnotes", *argv], capture_output=True, text=True, cwd=ROOT, env=env)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["simulate", "--activation", "swish"], ACTIVATIONS),
        (["simulate", "--init", "he"], INITS),
        (["theory", "--norm", "groupnorm"], NORMS),
        (["simulate", "--depth", "0"], ("depth",)),
        (["simulate", "--width", "-3"], ("width",)),
        (["simulate", "--norm", "batchnorm", "--batch", "1"], ("batch",)),
        (["simulate", "--dtype", "float16"], ("float64",)),
        (["simulate", "--loss", "mse"], ("random_projection",)),
        (["simulate", "--seeds", "a,b"], ("seeds",)),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], expected: tuple[str, ...]) -> None:
    if not (ROOT / "gradnotes" / "__main__.py").exists():
        pytest.skip("gradnotes/__main__.py not written yet")
    done = _gradnotes(*argv)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert all(word in lines[0] for word in expected)
