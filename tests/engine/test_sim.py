"""Engine checks against oracles: closed-form init statistics, a plain torch.nn reference network, finite
differences, and the physics the pages claim (He keeps ReLU flat, sigmoid vanishes, BN forgets the init)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
from torch import nn

from gradnotes.engine import nets, sim
from gradnotes.engine.spec import ACTIVATIONS, CORE_INITS, INITS, NORMS, Spec
from gradnotes.errors import UserError
from gradnotes.paths import ROOT

# ---------------------------------------------------------------- inits: empirical statistics = closed forms

FAN_OUT, FAN_IN = 300, 700  # non-square, so fan_in and fan_out cannot be confused
# (distribution, std, uniform bound or None), written out from the papers / torch docs, not from the engine
CLOSED_FORMS = {
    "standard_normal": (1.0, None),
    "small_normal": (0.01, None),
    "xavier_uniform": (math.sqrt(2 / (FAN_IN + FAN_OUT)), math.sqrt(6 / (FAN_IN + FAN_OUT))),
    "xavier_normal": (math.sqrt(2 / (FAN_IN + FAN_OUT)), None),
    # He uniform: U(-sqrt(6/n_in), +sqrt(6/n_in)); the outline's "+(-6/n_in)^(1/2)" is a sign typo
    "he_uniform": (math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN)),
    "he_normal": (math.sqrt(2 / FAN_IN), None),
    # nn.Linear's default: U(-1/sqrt(n_in), 1/sqrt(n_in)), the "old" init of Glorot & Bengio (2010)
    "torch_default": (1 / math.sqrt(3 * FAN_IN), 1 / math.sqrt(FAN_IN)),
    "lecun_normal": (1 / math.sqrt(FAN_IN), None),
    "orthogonal": (1 / math.sqrt(FAN_IN), None),
}


@pytest.mark.parametrize("init", INITS)
def test_init_matches_closed_form(init: str) -> None:
    weight = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)
    nets.init_weight_(weight, init, torch.Generator().manual_seed(0))
    std, bound = CLOSED_FORMS[init]
    assert abs(weight.mean().item()) < 0.01 * std
    # 210 000 samples: the sample std is within ~0.2 % of the true one
    assert weight.std().item() == pytest.approx(std, rel=0.01)
    if bound is not None:
        assert weight.abs().max().item() <= bound
        assert weight.abs().max().item() > 0.999 * bound
        assert weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    if init == "orthogonal":
        torch.testing.assert_close(weight @ weight.T, torch.eye(FAN_OUT, dtype=torch.float64))


def test_torch_default_is_what_nn_linear_does() -> None:
    generator = torch.Generator().manual_seed(3)
    ours = torch.empty(40, 30)
    nets.init_weight_(ours, "torch_default", generator)
    torch.manual_seed(3)
    layer = nn.Linear(30, 40)  # reset_parameters draws the weight first, from the global generator
    torch.manual_seed(3)
    reference = torch.empty(40, 30)
    nn.init.kaiming_uniform_(reference, a=math.sqrt(5))
    torch.testing.assert_close(layer.weight.detach(), reference)
    assert ours.abs().max() <= 1 / math.sqrt(30)


def test_draws_do_not_depend_on_activation_norm_or_loss() -> None:
    base = sim.draw(Spec(activation="tanh", init="he_normal", depth=3, width=8, batch=4, seed=7))
    other = sim.draw(
        Spec(activation="relu", norm="batchnorm", loss="sum", init="he_normal", depth=3, width=8, batch=4, seed=7)
    )
    assert torch.equal(base.x, other.x) and torch.equal(base.readout, other.readout)
    assert all(torch.equal(a, b) for a, b in zip(base.weights, other.weights, strict=True))
    # the input is shared by every init too: only the weights differ between inits of one seed
    xavier = sim.draw(Spec(activation="tanh", init="xavier_uniform", depth=3, width=8, batch=4, seed=7))
    assert torch.equal(base.x, xavier.x)


# ---------------------------------------------------------------- reference network built from torch.nn modules

MODULES = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def reference(spec: Spec, weights: list[torch.Tensor] | None = None) -> dict:
    """The network written the plain way: nn.Linear(bias=False) + nn norm + nn activation, one layer at a time."""
    draws = sim.draw(spec)
    weights = list(draws.weights) if weights is None else weights
    h = draws.x
    preacts, acts, zs = [], [], []
    linears = []
    for weight in weights:
        linear = nn.Linear(spec.width, spec.width, bias=False, dtype=weight.dtype)
        with torch.no_grad():
            linear.weight.copy_(weight)
        linears.append(linear)
        a = linear(h)
        a.retain_grad()
        if spec.norm == "batchnorm":
            z = nn.BatchNorm1d(spec.width, dtype=weight.dtype)(a)
        elif spec.norm == "layernorm":
            z = nn.LayerNorm(spec.width, dtype=weight.dtype)(a)
        else:
            z = a
        y = MODULES[spec.activation]()(z)
        h = h + y if spec.residual else y
        h.retain_grad()
        preacts.append(a)
        zs.append(z)
        acts.append(h)
    loss = (draws.readout * h).sum() if spec.loss == "random_projection" else h.sum()
    loss.backward()
    return {"loss": loss, "preacts": preacts, "zs": zs, "acts": acts, "linears": linears}


CASES = [
    Spec(activation="tanh", init="xavier_uniform", depth=4, width=6, batch=5),
    Spec(activation="sigmoid", init="standard_normal", depth=3, width=5, batch=7, loss="sum"),
    Spec(activation="relu", init="he_normal", norm="batchnorm", depth=4, width=6, batch=5),
    Spec(activation="leaky_relu", init="torch_default", norm="layernorm", depth=3, width=6, batch=4),
    Spec(activation="elu", init="orthogonal", depth=3, width=5, batch=4, residual=True),
    Spec(activation="gelu", init="he_uniform", norm="batchnorm", depth=3, width=5, batch=3, residual=True),
    Spec(activation="silu", init="lecun_normal", norm="layernorm", depth=3, width=4, batch=3, loss="sum"),
]


def test_every_metric_matches_the_reference_network() -> None:
    # batched together on purpose: members must not see each other (BatchNorm channels, shared draws)
    results = sim.run_many(CASES)
    for spec, result in zip(CASES, results, strict=True):
        ref = reference(spec)
        close = {"rel": 1e-10, "abs": 1e-12}
        assert result.loss == pytest.approx(ref["loss"].item(), **close)
        for layer in range(spec.depth):
            a, z, h = ref["preacts"][layer], ref["zs"][layer], ref["acts"][layer]
            weight = ref["linears"][layer].weight
            expected = {
                "act_mean_square": h.detach().square().mean().item(),
                "preact_std": a.detach().std(correction=0).item(),
                "weight_grad_norm": weight.grad.norm().item(),
                "preact_grad_norm": a.grad.norm().item(),
                "act_grad_norm": h.grad.norm().item(),
                "weight_norm": weight.detach().norm().item(),
            }
            for metric, value in expected.items():
                assert getattr(result, metric)[layer] == pytest.approx(value, **close), (spec, metric, layer)
            z = z.detach()
            if spec.activation in ("sigmoid", "tanh"):
                # phi'(z) by autograd against the 5 % of phi'(0) threshold: an independent route to the definition
                zz = z.clone().requires_grad_()
                (dphi,) = torch.autograd.grad(MODULES[spec.activation]()(zz).sum(), zz)
                dphi0 = 0.25 if spec.activation == "sigmoid" else 1.0
                assert result.saturated_fraction[layer] == pytest.approx((dphi < 0.05 * dphi0).double().mean().item())
                assert result.zero_fraction is None and result.dead_unit_fraction is None
            else:
                assert result.saturated_fraction is None
                assert result.zero_fraction[layer] == pytest.approx((z <= 0).double().mean().item())
                dead = (z <= 0).all(dim=0).double().mean().item()
                assert result.dead_unit_fraction[layer] == pytest.approx(dead)
            assert result.nonfinite[layer] is False


@pytest.mark.parametrize("spec", [CASES[0], CASES[2], CASES[3]], ids=["none", "batchnorm", "layernorm"])
def test_weight_gradients_equal_finite_differences(spec: Spec) -> None:
    result = sim.run(spec)
    draws = sim.draw(spec)
    step = 1e-6
    for layer in range(spec.depth):
        fd = torch.zeros(spec.width, spec.width, dtype=torch.float64)
        for i in range(spec.width):
            for j in range(spec.width):
                losses = []
                for sign in (1, -1):
                    weights = [w.clone() for w in draws.weights]
                    weights[layer][i, j] += sign * step
                    with torch.no_grad():
                        losses.append(reference_loss(spec, weights))
                fd[i, j] = (losses[0] - losses[1]) / (2 * step)
        assert result.weight_grad_norm[layer] == pytest.approx(fd.norm().item(), rel=1e-6)


def reference_loss(spec: Spec, weights: list[torch.Tensor]) -> float:
    """Loss of the reference network (forward only) for given weights."""
    draws = sim.draw(spec)
    h = draws.x
    for weight in weights:
        a = h @ weight.T
        if spec.norm == "batchnorm":
            z = nn.functional.batch_norm(a, None, None, training=True)
        elif spec.norm == "layernorm":
            z = nn.functional.layer_norm(a, (spec.width,))
        else:
            z = a
        y = MODULES[spec.activation]()(z)
        h = h + y if spec.residual else y
    loss = (draws.readout * h).sum() if spec.loss == "random_projection" else h.sum()
    return loss.item()


def test_gradcheck_through_the_batched_engine_ops() -> None:
    # the engine's BatchNorm-over-(batch, members*width) view must be differentiable exactly like BN per member
    spec = Spec(activation="tanh", norm="batchnorm", depth=2, width=3, batch=4)
    norm = sim._norm_layer(spec, members=2)
    a = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: torch.tanh(norm(t)), (a,))
    per_member = torch.stack([nn.functional.batch_norm(a[m], None, None, training=True) for m in range(2)])
    torch.testing.assert_close(norm(a), per_member)


# ---------------------------------------------------------------- the physics the pages claim


def _log2_slope(values: list[float]) -> float:
    """Least-squares slope of log2(values) against the layer index."""
    ys = [math.log2(v) for v in values]
    xs = range(len(ys))
    x_mean, y_mean = sum(xs) / len(ys), sum(ys) / len(ys)
    return sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / sum((x - x_mean) ** 2 for x in xs)


def test_relu_he_keeps_activation_scale_while_xavier_halves_it() -> None:
    specs = [
        Spec(activation="relu", init=init, depth=20, width=256, batch=64, seed=seed)
        for init in ("he_normal", "he_uniform", "xavier_normal", "xavier_uniform")
        for seed in (0, 1)
    ]
    for result in sim.run_many(specs):
        slope = _log2_slope(result.act_mean_square)
        # E[h^2] changes by 2^slope per layer; finite width (256) lets one seed drift by ~0.1 over 20 layers
        if result.spec.init.startswith("he"):
            assert abs(slope) < 0.15, result.spec  # level
        else:
            assert slope == pytest.approx(-1.0, abs=0.15), result.spec  # halves every layer


def test_sigmoid_gradients_vanish_even_with_xavier() -> None:
    specs = [Spec(activation="sigmoid", init="xavier_uniform", depth=30, width=128, batch=64, seed=s) for s in (0, 1)]
    for result in sim.run_many(specs):
        assert result.log10_ratio("preact_grad_norm") < -15  # chi ~ 0.07 per layer
        assert result.log10_ratio("weight_grad_norm") < -15


def test_standard_normal_tanh_saturates() -> None:
    results = sim.run_many(
        [
            Spec(activation="tanh", init=init, depth=10, width=256, batch=64)
            for init in ("standard_normal", "xavier_normal")
        ]
    )
    naive, xavier = results
    assert min(naive.saturated_fraction) > 0.85
    assert max(xavier.saturated_fraction) < 0.05


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_batchnorm_makes_forward_statistics_independent_of_init(activation: str) -> None:
    inits = CORE_INITS + ("torch_default", "orthogonal")
    results = {
        (norm, r.spec.init): r
        for norm in ("batchnorm", "none")
        for r in sim.run_many(
            [Spec(activation=activation, init=i, norm=norm, depth=12, width=128, batch=128) for i in inits]
        )
    }
    for layer in range(12):
        with_bn = [results["batchnorm", i].act_mean_square[layer] for i in inits]
        assert max(with_bn) / min(with_bn) < 1.05, layer
    without_bn = [results["none", i].act_mean_square[-1] for i in inits]
    assert max(without_bn) / min(without_bn) > 1e6  # the init decides everything without BN


def test_same_spec_gives_identical_results_across_processes() -> None:
    spec = Spec(activation="tanh", init="xavier_normal", norm="batchnorm", depth=5, width=32, batch=16, seed=3)
    here = sim.run(spec).to_json()
    code = (
        "import sys, json; from gradnotes.engine.spec import Spec; from gradnotes.engine.sim import run; "
        "print(run(Spec.from_dict(json.loads(sys.argv[1]))).to_json())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, spec.canonical_json()], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == here


def test_float32_overflow_is_recorded_not_raised() -> None:
    # sigma_w^2 / 2 = 128 per layer: activations pass float32's 3.4e38 around layer 36, and the gradients, which
    # grow by the same factor toward the input, overflow as well
    spec = Spec(activation="relu", init="standard_normal", depth=40, width=256, batch=8, dtype="float32")
    result = sim.run(spec)
    assert math.isfinite(result.act_mean_square[0])
    assert not math.isfinite(result.act_mean_square[-1])
    assert result.nonfinite[-1] is True and result.nonfinite[0] is True
    assert math.isnan(result.log10_ratio("weight_grad_norm"))
    restored = sim.Result.from_json(result.to_json())  # NaN/inf survive JSON
    assert restored.to_json() == result.to_json()
    # float64 handles the same network
    assert not any(sim.run(spec.replace(dtype="float64")).nonfinite)
    # and a network that stays in range is flagged nowhere
    assert not any(sim.run(spec.replace(depth=8)).nonfinite)


def test_result_round_trips_through_json_with_histograms() -> None:
    spec = Spec(activation="tanh", init="torch_default", depth=4, width=16, batch=8, hist_bins=10)
    result = sim.run(spec)
    text = json.dumps(result.to_dict())
    again = sim.Result.from_dict(json.loads(text))
    assert again.to_json() == result.to_json() and again.spec == spec
    for name in ("act", "preact_grad"):
        hist = result.histograms[name]
        assert len(hist["edges"]) == 11 and len(hist["counts"]) == spec.depth
        for layer in range(spec.depth):
            assert sum(hist["counts"][layer]) + hist["below"][layer] + hist["above"][layer] == 16 * 8
    assert result.histograms["act"]["edges"][0] == -1.0  # tanh's range by default
    grad_edges = result.histograms["preact_grad"]["edges"]
    assert grad_edges[0] == -grad_edges[-1]  # symmetric and shared by every layer


def test_histogram_ranges_can_be_fixed() -> None:
    spec = Spec(
        activation="relu", depth=3, width=8, batch=4, hist_bins=4, hist_act_range=(0, 0.5), hist_grad_range=[-1, 1]
    )
    result = sim.run(spec)
    assert result.histograms["act"]["edges"] == [0.0, 0.125, 0.25, 0.375, 0.5]
    assert spec.hist_grad_range == (-1, 1)
    assert sum(result.histograms["act"]["above"]) > 0


def test_run_many_equals_run() -> None:
    specs = [
        Spec(activation="relu", init=i, depth=3, width=16, batch=8, seed=s)
        for i in ("he_normal", "orthogonal")
        for s in (0, 1)
    ]
    for spec, result in zip(specs, sim.run_many(specs), strict=True):
        assert result.to_json() == sim.run(spec).to_json()


# ---------------------------------------------------------------- Spec: validation and key


@pytest.mark.parametrize(
    ("field", "value", "names"),
    [("activation", "softmax", ACTIVATIONS), ("init", "he", INITS), ("norm", "groupnorm", NORMS)],
)
def test_unknown_names_list_the_valid_ones(field: str, value: str, names: tuple[str, ...]) -> None:
    with pytest.raises(UserError) as info:
        Spec(**{field: value})
    message = str(info.value)
    assert "\n" not in message and value in message
    assert all(name in message for name in names)


@pytest.mark.parametrize(
    "fields",
    [
        {"depth": 0},
        {"width": -1},
        {"batch": 0},
        {"depth": 2.5},
        {"norm": "batchnorm", "batch": 1},
        {"dtype": "float16"},
        {"loss": "mse"},
        {"seed": -1},
        {"hist_bins": -2},
        {"hist_act_range": (1, 0)},
    ],
)
def test_bad_values_raise_user_error(fields: dict) -> None:
    with pytest.raises(UserError):
        Spec(**fields)


def test_spec_key_is_stable_and_canonical() -> None:
    spec = Spec(activation="relu", init="he_normal", seed=2)
    assert spec.key() == Spec.from_dict(json.loads(json.dumps(spec.to_dict()))).key()
    assert spec.key() == Spec(seed=2, init="he_normal", activation="relu").key()
    assert spec.key() != spec.replace(seed=3).key()
    assert len(spec.key()) == 64
    with pytest.raises(TypeError):
        Spec("relu")  # keyword-only
    with pytest.raises(UserError):
        Spec.from_dict({"activation": "relu", "colour": "red"})
