"""The init gain and the centred sigmoid: through torch.nn.init, in the theory, and on the command line."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gradnotes.engine import nets, sim, theory
from gradnotes.engine.spec import INITS, Spec
from gradnotes.errors import UserError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("init", INITS)
def test_a_gain_scales_what_the_init_draws(init):
    plain, scaled = torch.empty(64, 48, dtype=torch.float64), torch.empty(64, 48, dtype=torch.float64)
    nets.init_weight_(plain, init, torch.Generator().manual_seed(3))
    nets.init_weight_(scaled, init, torch.Generator().manual_seed(3), gain=2.5)
    # the same random numbers, 2.5 times larger: std and bounds both scale by the gain
    assert torch.allclose(scaled, 2.5 * plain, rtol=1e-12, atol=0)


def test_a_gain_of_one_leaves_torch_s_draws_untouched():
    ours, torchs = torch.empty(32, 32), torch.empty(32, 32)
    nets.init_weight_(ours, "he_normal", torch.Generator().manual_seed(0), gain=1.0)
    torch.nn.init.kaiming_normal_(torchs, nonlinearity="relu", generator=torch.Generator().manual_seed(0))
    assert torch.equal(ours, torchs)


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, True, "2"])
def test_a_gain_must_be_a_positive_finite_number(bad):
    with pytest.raises(UserError, match="gain must be a positive finite number"):
        Spec(gain=bad)


def test_gain_two_and_two_point_zero_are_one_spec():
    assert Spec(gain=2) == Spec(gain=2.0) and Spec(gain=2).key() == Spec(gain=2.0).key()


def test_the_centred_sigmoid_is_half_a_tanh_of_half_the_input():
    z = torch.linspace(-8, 8, 101, dtype=torch.float64)
    phi = nets.activation_fn("centered_sigmoid")
    assert torch.allclose(phi(z), torch.sigmoid(z) - 0.5, rtol=0, atol=1e-15)
    assert torch.equal(phi(z), 0.5 * torch.tanh(z / 2))
    # and where sigmoid(z) - 0.5 cancels to 0, the centred sigmoid keeps the small value (z / 4)
    tiny = torch.tensor([1e-20], dtype=torch.float64)
    assert float(torch.sigmoid(tiny) - 0.5) == 0.0 and float(phi(tiny)) == pytest.approx(2.5e-21, rel=1e-12)
    assert torch.allclose(nets.activation_module("centered_sigmoid")(z), phi(z), atol=0)


def test_theory_scales_sigma_w2_by_the_gain_squared():
    base = theory.predict(Spec(activation="sigmoid", init="xavier_normal", depth=3))
    scaled = theory.predict(Spec(activation="sigmoid", init="xavier_normal", depth=3, gain=4.0))
    assert scaled.sigma_w2 == pytest.approx(16.0 * base.sigma_w2, rel=1e-12)


@pytest.mark.parametrize(
    "activation, gain",
    [("sigmoid", 1.0), ("sigmoid", 4.0), ("sigmoid", 10.0), ("centered_sigmoid", 4.0), ("centered_sigmoid", 1.0)],
)
def test_simulation_agrees_with_mean_field_under_a_gain(activation, gain):
    specs = [
        Spec(activation=activation, init="xavier_normal", gain=gain, depth=30, width=256, batch=30, seed=s)
        for s in range(3)
    ]
    results = sim.run_many(specs)
    simulated = sum(r.log10_ratio("preact_grad_norm") for r in results) / len(results)
    predicted = theory.predict(specs[0]).log10_ratio_preact_grad
    assert simulated == pytest.approx(predicted, abs=0.4)


def test_the_cli_takes_a_gain_and_shows_it_in_the_json(tmp_path):
    env = {**os.environ, "GRADNOTES_CACHE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    args = ["--activation", "centered_sigmoid", "--init", "xavier_normal", "--gain", "4", "--depth", "5"]
    for command in (["simulate", *args, "--width", "16", "--batch", "8", "--seeds", "0"], ["theory", *args]):
        done = subprocess.run(
            [sys.executable, "-m", "gradnotes", *command, "--json"], env=env, text=True, capture_output=True, cwd=ROOT
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["spec"]["gain"] == 4.0
    for bad in ("0", "-2", "nan", "inf", "x"):
        done = subprocess.run(
            [sys.executable, "-m", "gradnotes", "simulate", "--gain", bad],
            env=env,
            text=True,
            capture_output=True,
            cwd=ROOT,
        )
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
