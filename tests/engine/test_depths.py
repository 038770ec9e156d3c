"""sim.run_depths: one forward pass serves several depths, and every Result equals run_many's bit for bit."""

from __future__ import annotations

import pytest

from gradnotes.engine.sim import run_depths, run_many
from gradnotes.engine.spec import Spec

INITS = ("he_normal", "orthogonal", "torch_default", "xavier_uniform")
DEPTHS = (3, 7, 12)


def _specs(activation: str, norm: str, residual: bool, **sizes) -> list[Spec]:
    fields = {"width": 16, "batch": 6, **sizes}
    return [
        Spec(activation=activation, init=init, norm=norm, residual=residual, depth=depth, seed=seed, **fields)
        for init in INITS
        for seed in (0, 3)
        for depth in DEPTHS
    ]


@pytest.mark.parametrize(
    ("activation", "norm", "residual"),
    [
        ("tanh", "none", False),
        ("relu", "batchnorm", False),
        ("sigmoid", "layernorm", True),
        ("centered_sigmoid", "none", True),
        ("gelu", "batchnorm", True),
    ],
)
def test_every_depth_equals_its_own_run_bit_for_bit(activation, norm, residual):
    specs = _specs(activation, norm, residual)
    shared = dict(zip(specs, run_depths(specs), strict=True))
    for depth in DEPTHS:
        alone = [s for s in specs if s.depth == depth]
        for spec, result in zip(alone, run_many(alone), strict=True):
            assert shared[spec].to_json() == result.to_json(), spec


def test_the_forward_statistics_of_a_shallow_network_are_the_first_layers_of_a_deep_one():
    specs = _specs("tanh", "batchnorm", False)
    results = {r.spec: r for r in run_depths(specs)}
    for spec in specs:
        deep = results[spec.replace(depth=max(DEPTHS))]
        assert results[spec].act_mean_square == deep.act_mean_square[: spec.depth]
        # ... but not the gradients: the loss sits at each network's own last layer
        if spec.depth < max(DEPTHS):
            assert results[spec].preact_grad_norm != deep.preact_grad_norm[: spec.depth]


def test_groups_with_unequal_depth_sets_fall_back_to_run_many():
    specs = [Spec(init="he_normal", depth=4, width=8, batch=3), Spec(init="xavier_normal", depth=6, width=8, batch=3)]
    got = run_depths(specs)
    assert [r.to_json() for r in got] == [r.to_json() for r in run_many(specs)]


def test_results_come_back_in_the_order_asked_for_with_duplicates():
    specs = _specs("relu", "none", False, width=8, batch=3)[:6]
    asked = [specs[4], specs[0], specs[4]]
    got = run_depths(asked)
    assert [r.spec for r in got] == asked


@pytest.mark.parametrize(
    ("activation", "norm", "residual"), [("relu", "batchnorm", True), ("tanh", "layernorm", False)]
)
def test_without_weight_gradients_every_other_statistic_is_the_same(activation, norm, residual):
    specs = _specs(activation, norm, residual)
    full = run_depths(specs)
    partial = run_depths(specs, weight_grads=False)
    for a, b in zip(full, partial, strict=True):
        assert b.weight_grad_norm is None and b.weight_norm is None
        assert {**a.to_dict(), "weight_grad_norm": None, "weight_norm": None} == b.to_dict(), a.spec


def test_the_cache_refuses_a_partial_result(tmp_path, monkeypatch):
    from gradnotes.engine import cache

    monkeypatch.setenv("GRADNOTES_CACHE", str(tmp_path))
    partial = run_depths([Spec(depth=3, width=8, batch=3)], weight_grads=False)[0]
    with pytest.raises(ValueError, match="partial"):
        cache.store(partial)
