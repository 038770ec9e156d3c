"""Experiments shared by several figures, the cost benchmark and the tests: BN vs no BN on digits (accuracy,
sigmoid-input percentiles, internal covariate shift), RNN pre-activations, gradient clipping, BN folding, norm axes.

Everything runs with a fixed thread count and seeded generators; results are plain JSON-able dicts. The digits
BN experiment is memoised per process because two figures draw from the same training runs.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gradnotes.engine.nets import threads
from gradnotes.experiments import stacked as train
from gradnotes.errors import UserError

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


def gradient_shift(model: train.StackedMLP, x: Tensor, y: Tensor, before: Sequence[Tensor]) -> dict[str, list]:
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
            train.member_losses(model(x), y).sum().backward()
        g = gradients[layer].flatten(1)
        g_shifted = model.weights[layer].grad.flatten(1)
        change.append(((g - g_shifted).norm(dim=1) / g.norm(dim=1)).tolist())
        cosine.append(F.cosine_similarity(g, g_shifted, dim=1).tolist())
    load(len(groups))
    return {"grad_change": change, "grad_cosine": cosine}


@functools.cache
def _sigmoid_run(norm: str) -> str:
    data = train.load_digits("the BatchNorm digits figures")
    with threads(1):
        model = train.StackedMLP(
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

        history = train.train(
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


# --- recurrent networks ---------------------------------------------------------------------------------------


def rnn_preactivations(rnn: nn.RNN, x: Tensor) -> tuple[Tensor, Tensor]:
    """(a, h) of a one-layer, batch-first ``nn.RNN``: a_t = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh, h_t = φ(a_t).

    ``h`` is the module's own output; ``a`` is rebuilt from it and the module's weights (h_0 = 0).
    """
    if rnn.num_layers != 1 or not rnn.batch_first or rnn.bidirectional:
        raise UserError("rnn_preactivations needs a one-layer, batch-first, unidirectional nn.RNN")
    h, _ = rnn(x)
    previous = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
    a = F.linear(x, rnn.weight_ih_l0, rnn.bias_ih_l0) + F.linear(previous, rnn.weight_hh_l0, rnn.bias_hh_l0)
    return a, h


def train_row_rnn(
    data: train.Digits, *, hidden: int = 64, steps: int = 150, batch_size: int = 64, lr: float = 0.1, seed: int = 0
) -> tuple[nn.RNN, nn.Linear, list[float]]:
    """A tanh ``nn.RNN`` reading each digit row by row (8 time steps of 8 pixels), classified from the last state."""
    generator = torch.Generator().manual_seed(seed)
    rnn = nn.RNN(8, hidden, batch_first=True, nonlinearity="tanh")
    head = nn.Linear(hidden, 10)
    bound = hidden**-0.5  # nn.RNN's own default, U(±1/√hidden), drawn from our generator
    with torch.no_grad():
        for p in [*rnn.parameters(), *head.parameters()]:
            nn.init.uniform_(p, -bound, bound, generator=generator)
    x = data.pixels_train.view(-1, 8, 8)
    optimizer = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=lr, momentum=0.9, foreach=True)
    sampler = train.BatchSampler(len(x), batch_size, [seed])
    losses = []
    for _ in range(steps):
        index = sampler.next()[0]
        h, _ = rnn(x[index])
        loss = F.cross_entropy(head(h[:, -1]), data.y_train[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return rnn, head, losses


def recurrent_net(
    *, hidden: int, inputs: int, spectral_radius: float, seed: int
) -> tuple[nn.RNN, nn.Linear, torch.Generator]:
    """A tanh ``nn.RNN`` whose recurrent matrix is Gaussian, rescaled to the given spectral radius, plus a readout."""
    generator = torch.Generator().manual_seed(seed)
    rnn = nn.RNN(inputs, hidden, batch_first=True, nonlinearity="tanh")
    head = nn.Linear(hidden, 1)
    with torch.no_grad():
        for p in [*rnn.parameters(), *head.parameters()]:
            nn.init.uniform_(p, -(hidden**-0.5), hidden**-0.5, generator=generator)
        nn.init.normal_(rnn.weight_hh_l0, 0.0, hidden**-0.5, generator=generator)
        radius = torch.linalg.eigvals(rnn.weight_hh_l0.double()).abs().max()
        rnn.weight_hh_l0.mul_(spectral_radius / radius.item())
    return rnn, head, generator


def clip_gradients(parameters: Sequence[nn.Parameter], max_norm: float) -> dict[str, float]:
    """``clip_grad_norm_`` on ``parameters``, with the norms before and after measured independently, and cos(g, g′)."""
    parameters = list(parameters)
    before = torch.cat([p.grad.flatten() for p in parameters]).double()
    returned = torch.nn.utils.clip_grad_norm_(parameters, max_norm=max_norm)
    after = torch.cat([p.grad.flatten() for p in parameters]).double()
    finite = bool(torch.isfinite(before).all())
    return {
        "returned_norm": float(returned),
        "norm_before": float(before.norm()),
        "norm_after": float(after.norm()),
        "cosine": float(F.cosine_similarity(before, after, dim=0)) if finite else float("nan"),
    }


# --- BatchNorm at inference --------------------------------------------------------------------------------------


def fold_batchnorm(model: nn.Sequential) -> nn.Sequential:
    """An eval-mode copy of ``model`` with every Linear → BatchNorm1d pair folded into one Linear.

    Uses ``torch.nn.utils.fuse_linear_bn_eval``: W′ = γ/√(σ²+ε)·W, b′ = γ(b − μ)/√(σ²+ε) + β with the running μ, σ².
    """
    source = copy.deepcopy(model).eval()
    layers = list(source)
    folded: list[nn.Module] = []
    k = 0
    while k < len(layers):
        layer = layers[k]
        following = layers[k + 1] if k + 1 < len(layers) else None
        if isinstance(layer, nn.Linear) and isinstance(following, nn.BatchNorm1d):
            folded.append(torch.nn.utils.fuse_linear_bn_eval(layer, following))
            k += 2
        else:
            folded.append(layer)
            k += 1
    return nn.Sequential(*folded).eval()


# --- which axes the normalisations average over ------------------------------------------------------------------


def axis_statistics(x: Tensor) -> dict[str, list]:
    """nn.BatchNorm1d's and nn.LayerNorm's outputs for ``x`` (N, C), with their mean and (biased) variance along
    both axes: BN standardises each column (over the batch), LN each row (over the features)."""
    n, c = x.shape
    bn = nn.BatchNorm1d(c, affine=False).train()  # training mode: the batch's own statistics
    ln = nn.LayerNorm(c, elementwise_affine=False)
    with torch.no_grad():
        out_bn, out_ln = bn(x), ln(x)
    return {
        "bn_output": out_bn.tolist(),
        "ln_output": out_ln.tolist(),
        "bn_column_mean": out_bn.mean(0).tolist(),
        "bn_column_var": out_bn.var(0, unbiased=False).tolist(),
        "bn_row_mean": out_bn.mean(1).tolist(),
        "bn_row_var": out_bn.var(1, unbiased=False).tolist(),
        "ln_row_mean": out_ln.mean(1).tolist(),
        "ln_row_var": out_ln.var(1, unbiased=False).tolist(),
        "ln_column_mean": out_ln.mean(0).tolist(),
        "ln_column_var": out_ln.var(0, unbiased=False).tolist(),
    }


def sequence_axis_statistics(x: Tensor) -> dict[str, list]:
    """For sequences ``x`` (N, C, T): nn.BatchNorm1d(C) standardises each channel over (N, T); nn.LayerNorm(C),
    applied at every time step as in RNNs, standardises each (sample, step) over C. Means and variances of both."""
    n, c, steps = x.shape
    bn = nn.BatchNorm1d(c, affine=False).train()
    ln = nn.LayerNorm(c, elementwise_affine=False)
    with torch.no_grad():
        out_bn = bn(x)  # (N, C, T)
        out_ln = ln(x.transpose(1, 2))  # (N, T, C)
    return {
        "bn_channel_mean": out_bn.mean((0, 2)).tolist(),
        "bn_channel_var": out_bn.var((0, 2), unbiased=False).tolist(),
        "ln_step_mean": out_ln.mean(2).flatten().tolist(),
        "ln_step_var": out_ln.var(2, unbiased=False).flatten().tolist(),
        "bn_step_mean": out_bn.mean(1).flatten().tolist(),  # BN leaves a (sample, step) vector unstandardised
    }


def batch_dependence(
    features: Tensor, batch_sizes: Sequence[int], *, probes: int, draws: int, generator: torch.Generator
) -> dict[str, list[float]]:
    """How much one sample's normalised value depends on the rest of its mini-batch.

    For each batch size B, each of ``probes`` samples is normalised ``draws`` times, each time with B − 1 other
    samples drawn at random; reported is the standard deviation of its output across draws, averaged over units
    and probes (real nn.BatchNorm1d in training mode; nn.LayerNorm for comparison, which sees one sample only).
    """
    n, units = features.shape
    bn_spread, ln_spread = [], []
    ln = nn.LayerNorm(units, elementwise_affine=False)
    for batch in batch_sizes:
        if not 2 <= batch <= n:
            raise UserError(f"batch sizes must be between 2 and {n}, got {batch}")
        bn_values, ln_values = [], []
        for probe in range(probes):
            others = torch.cat([torch.arange(probe), torch.arange(probe + 1, n)])
            picks = torch.stack([others[torch.randperm(n - 1, generator=generator)[: batch - 1]] for _ in range(draws)])
            index = torch.cat([torch.full((draws, 1), probe), picks], dim=1)  # (draws, batch); the probe is row 0
            batches = features[index]  # (draws, batch, units)
            # One BatchNorm1d over (batch, draws·units): each draw's units are separate channels, so every draw gets
            # exactly its own batch statistics.
            bn = nn.BatchNorm1d(draws * units, affine=False).train()
            with torch.no_grad():
                flat = batches.transpose(0, 1).reshape(batch, draws * units)
                out_bn = bn(flat)[0].view(draws, units)
                out_ln = ln(batches[:, 0])
            bn_values.append(out_bn.std(0).mean())
            ln_values.append(out_ln.std(0).mean())
        bn_spread.append(float(torch.stack(bn_values).mean()))
        ln_spread.append(float(torch.stack(ln_values).mean()))
    return {"batchnorm": bn_spread, "layernorm": ln_spread}
