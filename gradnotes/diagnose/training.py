"""Training mode: train a copy of the model for a few steps under :class:`watch`, and read findings from the history.

What the history shows that one pass cannot (CS231n, "Babysitting the learning process"; Karpathy, makemore part 3):
the update:data ratio ‖ΔW‖/‖W‖ of each step (≈ 1e-3 is healthy), the loss curve, units that die or saturate as the
weights move, and the first step where NaN/inf appear.

With Adam the update is ≈ lr per weight whatever the gradient's size (m̂/√v̂ ≈ ±1 while the gradient keeps its
sign), so a small gradient is no longer a small step: a vanishing ‖∂L/∂W‖ at initialisation does not by itself mean
a slow layer. The update:data ratio is what to read under either optimiser; its thresholds are the same.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from gradnotes.diagnose.findings import Finding, _as_consequence, span
from gradnotes.diagnose.rules import Thresholds
from gradnotes.diagnose.text import display_name, pct
from gradnotes.diagnose.watch import watch
from gradnotes.errors import UserError

if TYPE_CHECKING:
    import torch

DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3}  # makemore part 3 trains with SGD at 0.1; torch.optim.Adam's default is 1e-3


def batches_of(data: Any) -> Callable[[], Iterator[Any]]:
    """A factory of batch iterators: one batch (repeated), a list of batches, a DataLoader or any iterable."""
    import torch

    if isinstance(data, torch.Tensor) or isinstance(data, dict):
        return lambda: _repeat(data)
    if isinstance(data, (tuple, list)):
        if data and isinstance(data, list) and all(isinstance(b, (tuple, list, dict)) for b in data):
            return lambda: iter(data)  # a list of (inputs, targets) batches
        return lambda: _repeat(data)
    if isinstance(data, Iterator):
        return lambda: data  # one pass only: training stops when it is exhausted
    if isinstance(data, Iterable):
        return lambda: iter(data)
    return lambda: _repeat(data)


def _repeat(batch: Any) -> Iterator[Any]:
    while True:
        yield batch


def train(
    model: torch.nn.Module,
    data: Any,
    loss_fn: Callable[..., Any],
    steps: int,
    *,
    optimizer: str = "sgd",
    lr: float | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """Train a deep copy of ``model`` for ``steps`` steps under :class:`watch`; the reader's model is left untouched."""
    import torch

    from gradnotes.diagnose.measure import _compute_loss

    if not (isinstance(steps, int) and steps >= 1):
        raise UserError(f"--steps must be a positive integer, got {steps!r}")
    if optimizer not in DEFAULT_LR:
        raise UserError(f"--optimizer must be one of {', '.join(DEFAULT_LR)}, got {optimizer!r}")
    lr = DEFAULT_LR[optimizer] if lr is None else lr
    student = copy.deepcopy(model)
    student.train()
    params = [p for p in student.parameters() if p.requires_grad]
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)(params, lr=lr)
    make_iter = batches_of(data)
    it = make_iter()
    done = 0
    with torch.random.fork_rng(devices=[]), watch(student, every=1, optimizer=opt, thresholds=thresholds) as w:
        while done < steps:
            try:
                batch = next(it)
            except StopIteration:
                it = make_iter()
                try:
                    batch = next(it)
                except StopIteration:
                    break  # a one-shot iterator is exhausted: report the steps taken
            opt.zero_grad(set_to_none=True)
            loss = _compute_loss(student, batch, loss_fn)
            value = float(loss.detach())
            if done == 0 and not math.isfinite(value):
                raise UserError(
                    f"the loss at step 0 is {value}: there is nothing to train; run without --steps to see where the "
                    "values overflow"
                )
            w.loss(value)
            done += 1
            if not math.isfinite(value):
                break  # the first non-finite step is recorded; later ones say nothing new
            loss.backward()
            opt.step()
    history = w.history()
    history.update(optimizer=optimizer, lr=lr, steps_requested=steps, steps_taken=done)
    return history


# --- findings over steps -------------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else math.sqrt(s[n // 2 - 1] * s[n // 2])


def training_findings(history: dict[str, Any], thresholds: Thresholds | None = None) -> list[Finding]:
    """Findings from a history (training mode or a watch log): update:data ratio, loss, dying/saturating units, NaN."""
    th = thresholds or Thresholds(**history.get("thresholds", {}))
    steps = history["steps"]
    layers = history["layers"]
    index = {info["name"]: i for i, info in enumerate(layers, 1)}
    kind_of = {info["name"]: info["kind"] for info in layers}
    optimizer = (history.get("optimizer") or "").lower()
    adam = optimizer.startswith("adam")
    lr = history.get("lr")
    roots: list[tuple[Finding, list[Finding]]] = []

    def where(name: str) -> str:
        return f"#{index[name]} ({display_name(name)}, {kind_of[name]})"

    first_bad = next(
        (
            r
            for r in steps
            if (r.get("loss") is not None and not math.isfinite(r["loss"]))
            or any(s.get("nonfinite_activations") or s.get("nonfinite_gradients") for s in r["layers"].values())
        ),
        None,
    )
    # loss None in strict JSON means NaN/inf when the writer had a value; a loss never noted is simply absent
    if first_bad is None:
        first_bad = next((r for r in steps if "loss" in r and r["loss"] is None and _noted(steps)), None)
    healthy_steps = [r for r in steps if first_bad is None or r["step"] < first_bad["step"]]

    ratios: dict[str, list[float]] = {}
    for r in healthy_steps:
        for name, s in r["layers"].items():
            u = s.get("update_ratio")
            if u is not None and math.isfinite(u) and u > 0:
                ratios.setdefault(name, []).append(u)
    medians = {name: _median(v) for name, v in ratios.items() if v}
    # The learning rate is judged on the median layer (a small readout layer often runs hotter, makemore part 3);
    # a single layer is named on its own when it is 10× beyond a threshold.
    typical = _median(list(medians.values())) if medians else None
    if typical is not None and typical > th.max_update_ratio:
        big = {n: v for n, v in medians.items() if v > th.max_update_ratio}
    else:
        big = {n: v for n, v in medians.items() if v > 10 * th.max_update_ratio}
    if typical is not None and typical < th.min_update_ratio:
        small = {n: v for n, v in medians.items() if v < th.min_update_ratio}
    else:
        small = {n: v for n, v in medians.items() if v < th.min_update_ratio / 10}
    first_ratios = [
        s["update_ratio"]
        for s in (healthy_steps[0]["layers"].values() if healthy_steps else [])
        if s.get("update_ratio") and math.isfinite(s["update_ratio"])
    ]
    # At step 0 the weights are still the initial ones, so the ratio is proportional to lr (SGD, and Adam's first
    # step ≈ lr·sign(g)): the lr that gives 1e-3 is read from there.
    first_typical = _median(first_ratios) if first_ratios else None
    opt_text = f"{history.get('optimizer') or 'the optimiser'}" + (f" at lr {lr:g}" if lr else "")

    large_root = None
    if big:
        overall = _median(list(big.values()))
        names = sorted(big, key=index.get)
        scale = first_typical or overall
        suggested = f"lr={lr * 1e-3 / scale:.1g}" if lr else f"a learning rate {scale / 1e-3:.2g}× smaller"
        large_root = Finding(
            kind="update_ratio_large",
            severity="error",
            layers=names,
            evidence=(
                f"median update:data ratio ‖ΔW‖/‖W‖ over {len(healthy_steps)} step(s) is {min(big.values()):.2g}–"
                f"{max(big.values()):.2g} in {len(big)} weight layer(s) (threshold {th.max_update_ratio:g}; healthy "
                "≈ 1e-3, CS231n and makemore part 3): every step rewrites a large part of the weights"
            ),
            cause=f"the learning rate is too large: {opt_text} moves these weights by {overall:.2g} of their norm "
            "per step" + (" (Adam moves each weight by ≈ lr per step, whatever its gradient)" if adam else ""),
            fix=f"# aim at an update:data ratio ≈ 1e-3\noptimizer = torch.optim.{'Adam' if adam else 'SGD'}"
            f"(model.parameters(), {suggested})",
            title="learning rate too large (update:data ratio ≫ 1e-3)",
            span=span([index[n] for n in names]),
            measured={"median_update_ratio": overall, **{f"update_ratio:{n}": v for n, v in big.items()}},
        )
        roots.append((large_root, []))
    if small:
        names = sorted(small, key=index.get)
        overall = _median(list(small.values()))
        if adam:
            cause = (
                "with Adam each weight moves by ≈ lr per step whatever its gradient, so ‖ΔW‖/‖W‖ ≈ lr·√n/‖W‖: "
                "the learning rate is small for weights of this size"
            )
        else:
            cause = (
                "with SGD the step is lr·∂L/∂W: the learning rate is too small, or the gradient reaching these layers "
                "has vanished (see the findings at initialisation)"
            )
        roots.append(
            (
                Finding(
                    kind="update_ratio_small",
                    severity="warning",
                    layers=names,
                    evidence=(
                        f"median update:data ratio {min(small.values()):.2g}–{max(small.values()):.2g} in "
                        f"{len(small)} weight layer(s) (threshold {th.min_update_ratio:g}; healthy ≈ 1e-3): "
                        "they barely learn"
                    ),
                    cause=cause,
                    fix=f"# raise the learning rate about {1e-3 / overall:.2g}× for these layers (a param group)",
                    title="layers that barely learn (update:data ratio ≪ 1e-3)",
                    span=span([index[n] for n in names]),
                    measured={"median_update_ratio": overall},
                ),
                [],
            )
        )

    consequences: list[Finding] = []
    if first_bad is not None:
        bad_layers = [
            n for n, s in first_bad["layers"].items() if s.get("nonfinite_activations") or s.get("nonfinite_gradients")
        ]
        bad_layers.sort(key=index.get)
        consequences.append(
            Finding(
                kind="non_finite",
                severity="error",
                layers=bad_layers,
                evidence=f"first NaN/inf at step {first_bad['step']}"
                + (f", from {where(bad_layers[0])}" if bad_layers else " (in the loss)"),
                cause="weights or activations grew beyond float range",
                fix="lower the learning rate, or clip: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)",
                title=f"NaN/inf at step {first_bad['step']}",
                span=span([index[n] for n in bad_layers]),
                measured={"first_step": float(first_bad["step"])},
            )
        )
    losses = [(r["step"], r["loss"]) for r in healthy_steps if r.get("loss") is not None]
    if len(losses) >= 5:
        head = _median([v for _, v in losses[: max(1, len(losses) // 5)]])
        tail = _median([v for _, v in losses[-max(1, len(losses) // 5) :]])
        if tail > head * 1.05:
            consequences.append(
                Finding(
                    kind="loss_rising",
                    severity="error",
                    layers=[],
                    evidence=f"the loss rises from {head:.4g} (first fifth of the steps) to {tail:.4g} (last fifth)",
                    cause="the steps overshoot: the learning rate is too large",
                    fix="lower the learning rate (×0.1 to start)",
                    title="loss rising during training",
                    measured={"loss_start": head, "loss_end": tail},
                )
            )
    for metric, word, limit in (
        ("dead_fraction", "units dying during training", th.max_dead_fraction),
        ("saturated_fraction", "units saturating during training", th.max_saturated_fraction),
    ):
        series = [r for r in healthy_steps if r["layers"]]
        if len(series) < 2:
            continue
        start, end = series[0]["layers"], series[-1]["layers"]
        grown = {
            n: (start[n][metric], end[n][metric])
            for n in end
            if end[n].get(metric) is not None
            and start.get(n, {}).get(metric) is not None
            and end[n][metric] > limit
            and end[n][metric] - start[n][metric] >= 0.1
        }
        if grown:
            names = sorted(grown, key=index.get)
            consequences.append(
                Finding(
                    kind="dying_units" if metric == "dead_fraction" else "saturating_units",
                    severity="error",
                    layers=names,
                    evidence=(
                        f"in {len(grown)} layer(s) the {metric.replace('_', ' ')} grows from "
                        f"{pct(min(a for a, _ in grown.values()))}–{pct(max(a for a, _ in grown.values()))} at step "
                        f"{series[0]['step']} to {pct(min(b for _, b in grown.values()))}–"
                        f"{pct(max(b for _, b in grown.values()))} at step {series[-1]['step']} "
                        f"(threshold {pct(limit)})"
                    ),
                    cause="large updates push the pre-activations out of the useful range",
                    fix="lower the learning rate; for ReLU, nn.LeakyReLU(0.01) keeps a gradient where z < 0",
                    title=word,
                    span=span([index[n] for n in names]),
                    measured={f"{metric}_end": max(b for _, b in grown.values())},
                )
            )
    if large_root is not None:
        roots[0][1].extend(_as_consequence(c, large_root) for c in consequences)
    else:
        roots.extend((c, []) for c in consequences)
    roots.sort(key=lambda c: (not any(x.kind == "non_finite" for x in (c[0], *c[1])), c[0].severity != "error"))
    return [f for root, cons in roots for f in (root, *cons)]


def _noted(steps: list[dict[str, Any]]) -> bool:
    return any(r.get("loss") is not None for r in steps)
