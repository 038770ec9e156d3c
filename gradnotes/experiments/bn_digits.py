"""The one digits experiment two figures share: the Ioffe & Szegedy (2015) Fig. 1 sigmoid MLP with and without
BatchNorm — test accuracy, sigmoid-input percentiles, input drift and Santurkar et al.'s (2018) gradient-based
internal covariate shift (bn_percentiles_digits and ics_critique draw from the same training runs).

It runs with one thread and seeded generators; results are plain JSON-able dicts, memoised per process.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gradnotes.engine.nets import threads
from gradnotes.errors import UserError
from gradnotes.experiments import digits, stacked

# The Ioffe & Szegedy (2015) Fig. 1 network, on digits: 3 fully connected sigmoid layers of 100 units, "small random
# Gaussian" weights (Xavier normal: σ = 0.1 here), SGD with momentum on mini-batches of 60.
SIGMOID_SIZES = (64, 100, 100, 100, 10)
SIGMOID_INIT = "xavier_normal"
SIGMOID_LR = 0.05
SIGMOID_MOMENTUM = 0.9
SIGMOID_BATCH = 60
SIGMOID_STEPS = 400
SIGMOID_SEEDS = (0, 1, 2)
SIGMOID_EVAL_EVERY = 20
PERCENTILES = (15, 50, 85)
PROBE_UNITS = 6  # the first units of the last hidden layer whose input percentiles are recorded


def _sorted_samples(a: Tensor) -> Tensor:
    """(members, samples, units) → (members, units, samples), each unit's samples in ascending order."""
    return torch.from_numpy(np.sort(a.transpose(1, 2).numpy(), axis=-1))  # numpy: ~10× faster than torch.sort here


def gradient_shift(model: stacked.StackedMLP, x: Tensor, y: Tensor, before: Sequence[Tensor]) -> dict[str, list]:
    """Santurkar et al.'s (2018) internal covariate shift of one SGD update, per layer i ≥ 2 and member.

    ``before`` holds the parameters before the update (the model holds those after it, the gradients G of the
    update are still in ``.grad``). G = ∇_{W_i} L at the old parameters; G′ = the same gradient on the same batch
    after updating only the layers below i. Returns ‖G − G′‖/‖G‖ and cos(G, G′), each [layer][member].
    """
    params = list(model.parameters())
    after = [p.detach().clone() for p in params]
    gradients = [w.grad.detach().clone() for w in model.weights]
    position = {id(p): k for k, p in enumerate(params)}
    groups = model.layer_parameters()

    def load(updated_layers: int) -> None:
        with torch.no_grad():
            for p, old in zip(params, before, strict=True):
                p.copy_(old)
            for group in groups[:updated_layers]:
                for p in group:
                    p.copy_(after[position[id(p)]])

    change, cosine = [], []
    for layer in range(1, len(groups)):
        load(layer)
        model.zero_grad()
        with model.frozen_statistics():
            stacked.member_losses(model(x), y).sum().backward()
        g = gradients[layer].flatten(1)
        g_shifted = model.weights[layer].grad.flatten(1)
        change.append(((g - g_shifted).norm(dim=1) / g.norm(dim=1)).tolist())
        cosine.append(F.cosine_similarity(g, g_shifted, dim=1).tolist())
    load(len(groups))
    return {"grad_change": change, "grad_cosine": cosine}


@functools.cache
def _sigmoid_run(norm: str) -> str:
    data = digits.load_digits("the BatchNorm digits figures")
    with threads(1):
        model = stacked.StackedMLP(
            SIGMOID_SIZES,
            activation="sigmoid",
            inits=[SIGMOID_INIT] * len(SIGMOID_SEEDS),
            seeds=list(SIGMOID_SEEDS),
            norm=norm,
        )
        percentiles: list = []
        drift: list = []
        start: list[Tensor] = []
        ics: dict[str, list] = {"steps": [], "grad_change": [], "grad_cosine": []}
        levels = np.array(PERCENTILES) / 100

        def on_eval(step: int) -> None:
            # The sigmoid inputs on the 360 test images, as training sees them (batch statistics).
            hidden = [_sorted_samples(a) for a in model.probe(data.x_test)]  # (members, units, images) per layer
            start.extend(hidden if not start else [])
            probed = hidden[-1][:, :PROBE_UNITS].numpy()
            percentiles.append(np.moveaxis(np.quantile(probed, levels, axis=-1), 0, -1).tolist())
            # W₁ between two equally sized samples = mean |difference of the sorted samples|; then the unit mean.
            drift.append([(now - then).abs().mean((1, 2)).tolist() for now, then in zip(hidden, start, strict=True)])

        def on_update(step: int, index: Tensor, before: list[Tensor]) -> None:
            measured = gradient_shift(model, data.x_train[index], data.y_train[index], before)
            ics["steps"].append(step)
            for key, value in measured.items():
                ics[key].append(value)

        history = stacked.train(
            model,
            data,
            steps=SIGMOID_STEPS,
            batch_size=SIGMOID_BATCH,
            lr=SIGMOID_LR,
            momentum=SIGMOID_MOMENTUM,
            eval_every=SIGMOID_EVAL_EVERY,
            on_eval=on_eval,
            update_every=SIGMOID_EVAL_EVERY,
            on_update=on_update,
        )
    result = {
        "norm": norm,
        "eval_steps": history.eval_steps,
        "test_accuracy": history.test_accuracy,  # [eval][member], eval mode (running statistics)
        "percentiles": percentiles,  # [eval][member][unit][level], last hidden layer
        "drift": drift,  # [eval][hidden layer][member]: W₁ of each unit's sigmoid input to step 0, unit mean
        "ics": ics,  # [measurement][layer 2..4][member]
    }
    return json.dumps(result)


def sigmoid_bn_run(norm: str) -> dict:
    """The 3×100 sigmoid MLP on digits (3 seeds), with ``norm`` "none" or "batchnorm": curves, percentiles, ICS."""
    if norm not in ("none", "batchnorm"):
        raise UserError(f"norm must be 'none' or 'batchnorm', got {norm!r}")
    return json.loads(_sigmoid_run(norm))  # a fresh copy: callers may not alter the memoised run


def sigmoid_bn_config() -> dict:
    """The settings of ``sigmoid_bn_run``, for the figures' data."""
    return {
        "sizes": list(SIGMOID_SIZES),
        "init": SIGMOID_INIT,
        "lr": SIGMOID_LR,
        "momentum": SIGMOID_MOMENTUM,
        "batch_size": SIGMOID_BATCH,
        "steps": SIGMOID_STEPS,
        "seeds": list(SIGMOID_SEEDS),
        "percentile_levels": list(PERCENTILES),
    }
