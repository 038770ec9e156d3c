"""Bad input and overflow through the engine's CLI: one line and exit 2, strict JSON with reasons, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def gradnotes(*args: str, cache: Path, stdin_pipe_closed: bool = False, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "GRADNOTES_CACHE": str(cache), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "gradnotes", *args], env=full_env, text=True, capture_output=True, cwd=ROOT
    )


def no_nan(text: str) -> dict:
    """RFC 8259 JSON only: NaN and Infinity are not JSON (JSON.parse rejects them)."""

    def reject(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


def one_line_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr[-1500:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_overflow_is_strict_json_with_reasons(tmp_path):
    # 240 ReLU layers from N(0, 1): the activations pass 1e154 and E[h^2] exceeds float64 while h is finite
    args = ["--activation", "relu", "--init", "standard_normal", "--depth", "240", "--width", "64", "--batch", "16"]
    done = gradnotes("simulate", *args, "--seeds", "0", "--json", cache=tmp_path)
    assert done.returncode == 0, done.stderr
    report = no_nan(done.stdout)
    row = report["per_seed"][0]
    assert row["act_mean_square"][-1] is None and not any(row["nonfinite"])
    assert "statistic exceeds float64" in row["undefined"]["act_mean_square"]
    # the norms stay finite (computed scaled), so the ratios are defined
    assert all(v is not None for v in row["preact_grad_norm"]) and report["summary"]["log10_ratio_preact_grad"]["mean"]
    text = gradnotes("simulate", *args, "--seeds", "0", cache=tmp_path)
    assert "exceeds float64's range" in text.stdout
    cells = [cell for line in text.stdout.splitlines()[2:] if line.strip()[:1].isdigit() for cell in line.split()]
    assert "nan" not in cells, "std(a) is computed from the RMS where E[a^2] overflows"


def test_a_network_that_overflows_says_so_in_json(tmp_path):
    args = ["--activation", "relu", "--init", "standard_normal", "--depth", "80", "--width", "64", "--batch", "8"]
    done = gradnotes("simulate", *args, "--dtype", "float32", "--seeds", "0,1", "--json", cache=tmp_path)
    assert done.returncode == 0, done.stderr
    report = no_nan(done.stdout)
    summary = report["summary"]["log10_ratio_preact_grad"]
    assert summary["mean"] is None and "seed 0" in summary["reason"] and "seed 1" in summary["reason"]
    assert any(report["per_seed"][0]["nonfinite"])
    table = gradnotes("simulate", *args, "--dtype", "float32", "--seeds", "0", cache=tmp_path).stdout
    assert "undefined —" in table and "yes" in table  # the inf/nan column is filled where the network overflowed


def test_theory_json_is_strict(tmp_path):
    done = gradnotes(
        "theory", "--activation", "relu", "--init", "standard_normal", "--depth", "200", "--json", cache=tmp_path
    )
    assert done.returncode == 0, done.stderr
    no_nan(done.stdout)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["simulate", "--width", "1000000"], "reduce --width"),
        (["simulate", "--batch", "10000000"], "reduce --batch"),
        (["simulate", "--depth", "100000"], "depth must be at most 10,000"),
        (["theory", "--depth", "1000000"], "depth must be at most 10,000"),
        (["theory", "--dtype", "float32"], "unrecognized arguments: --dtype"),
        (["build", "--only", ","], "names no figure"),
    ],
)
def test_impossible_sizes_and_ignored_flags_are_refused_at_once(tmp_path, args, needle):
    one_line_error(gradnotes(*args, cache=tmp_path), needle)


def test_a_cache_path_that_is_a_file_or_cannot_be_made_is_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    one_line_error(gradnotes("simulate", "--depth", "2", "--width", "4", "--batch", "2", cache=afile), "is a file")
    # /proc refuses new folders even to root
    one_line_error(
        gradnotes("build", "--only", "activation_functions", cache=Path("/proc/gradnotes")), "cannot be created"
    )


@pytest.mark.parametrize(
    "command", [["simulate", "--depth", "300", "--width", "8", "--batch", "4"], ["theory", "--depth", "300"], ["list"]]
)
def test_a_closed_pipe_ends_quietly(tmp_path, command):
    env = {**os.environ, "GRADNOTES_CACHE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    shell = f"{sys.executable} -m gradnotes {' '.join(command)} | head -n 1"
    done = subprocess.run(["bash", "-c", shell], env=env, text=True, capture_output=True, cwd=ROOT)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


@pytest.mark.parametrize("command", ["list", "build", "clean", "simulate", "theory", "bench", "bench-norm", "diagnose"])
def test_every_subcommand_explains_itself_with_examples(tmp_path, command):
    done = gradnotes(command, "--help", cache=tmp_path)
    assert done.returncode == 0
    assert "examples:" in done.stdout and f"gradnotes {command}" in done.stdout.split("examples:")[1]
