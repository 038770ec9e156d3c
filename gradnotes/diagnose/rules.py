"""When a layer's statistics count as a problem: the thresholds, and the rules that turn a report's rows into flags."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gradnotes.diagnose.text import display_name, pct
from gradnotes.errors import UserError

if TYPE_CHECKING:
    from gradnotes.diagnose.report import LayerStats


@dataclass(frozen=True)
class Thresholds:
    """When a statistic counts as a problem; every default is explained where it is defined."""

    # Two ratios, first dense weight layer over the last one in forward order: ‖∂L/∂W‖ (what the optimiser sees,
    # the ratio the site's figures draw) and the RMS of the back-propagated gradient ∂L/∂y at their outputs. Below
    # 1e-3 the input side learns at least a thousand times slower than the output side: vanishing.
    vanishing_ratio: float = 1e-3
    # Either ratio above 1e3: gradients grow by three orders of magnitude on their way back to the input.
    exploding_ratio: float = 1e3
    # Any weight layer's ‖∂L/∂W‖ / ‖W‖ above 100: one plain SGD step at learning rate 0.01 would move W by more than
    # its own norm. Hidden layers sit around 1e-3–1e-1 at initialisation (Karpathy's grad:data ratio); output
    # layers, with few small weights and the largest gradients, reach 1–10 in healthy models. A summed (not
    # averaged) loss multiplies it by the batch size; unscaled regression targets inflate it too (rightly).
    max_grad_data_ratio: float = 100.0
    # A unit of a sigmoid/tanh-like activation counts as saturated where φ′(z) < saturation_slope · φ′(0); with 0.05
    # that is |tanh(z)| > √0.95 ≈ 0.9747 (|z| > 2.18) and |2σ(z) − 1| > √0.95 (|z| > 4.36).
    saturation_slope: float = 0.05
    # Flag an activation layer when more than this fraction of its (sample, unit) values is saturated: such a layer
    # passes on less than 5 % of the gradient for most of what goes through it (Glorot & Bengio 2010, Fig. 2).
    max_saturated_fraction: float = 0.2
    # Flag a ReLU layer when more than this fraction of its units is ≤ 0 for every sample of the batch. Those units
    # receive no gradient at all. With independent signs a live unit is silent on a whole batch of n samples with
    # probability 2⁻ⁿ, so use a batch of at least 16 samples.
    max_dead_fraction: float = 0.2
    # Cross-entropy over C classes starts at ln C when the logits are ≈ 0 (Karpathy, makemore part 3: "we expect
    # 3.29 and get 27"). Above 1.5 ln C the model is confidently wrong before it has learnt anything.
    max_initial_loss_ratio: float = 1.5
    # A recurrent weight can make gradients explode through time only if its spectral radius exceeds 1 (Pascanu et
    # al. 2013 §3.1); nn.RNN's default init gives ≈ 1/√3 ≈ 0.58.
    max_spectral_radius: float = 1.0
    # Update:data ratio ‖ΔW‖/‖W‖ per optimiser step (training mode and watch): ≈ 1e-3 is healthy (CS231n, "Ratio of
    # weights:updates"; Karpathy, makemore part 3). Above 1e-2 a few steps rewrite the weights; below 1e-4 a layer
    # barely learns. The same thresholds hold for SGD and Adam, since ΔW is the step actually taken.
    max_update_ratio: float = 1e-2
    min_update_ratio: float = 1e-4

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise UserError(f"threshold {f.name} must be a positive number, got {value!r}")
        for name in ("saturation_slope", "max_saturated_fraction", "max_dead_fraction"):
            if getattr(self, name) >= 1:
                raise UserError(f"threshold {name} is a fraction: it must be below 1, got {getattr(self, name)!r}")


@dataclass
class Flag:
    """A problem found in the report, with the measured value and the threshold it crossed."""

    kind: str  # "vanishing" | "exploding" | "saturation" | "dead_units" | "non_finite"
    metric: str
    layer: str | None
    value: float
    threshold: float
    message: str


def find_flags(loss: float, rows: list[LayerStats], th: Thresholds) -> list[Flag]:
    """The problems in one pass: NaN/inf first, then gradients across depth, then saturated and dead units."""
    flags: list[Flag] = []
    if not math.isfinite(loss):
        flags.append(Flag("non_finite", "loss", None, loss, math.nan, f"the loss itself is {loss}"))
    bad_act = [r for r in rows if r.nonfinite_activations]
    if bad_act:
        first = bad_act[0]
        flags.append(
            Flag(
                "non_finite",
                "activations",
                first.name,
                float(first.nonfinite_activations),
                0.0,
                f"{display_name(first.name)} is the first layer whose output holds NaN/inf "
                f"({first.nonfinite_activations} value(s)); {len(bad_act)} layer(s) affected",
            )
        )
    bad_grad = [r for r in rows if r.nonfinite_gradients]
    if bad_grad:
        flags.append(
            Flag(
                "non_finite",
                "gradients",
                bad_grad[-1].name,
                float(sum(r.nonfinite_gradients for r in bad_grad)),
                0.0,
                f"{len(bad_grad)} layer(s) get NaN/inf parameter gradients, starting (backwards) at "
                f"{display_name(bad_grad[-1].name)}",
            )
        )

    # Depth: the first and the last dense weight layer that actually ran, in forward order, compared twice.
    depth = [r for r in rows if r.role == "weight" and r.calls > 0]
    if len(depth) >= 2:
        first, last = depth[0], depth[-1]
        span = f"{display_name(first.name)} → {display_name(last.name)}"
        checks = (
            # What the optimiser sees, and what the site's figures draw.
            ("weight_grad_ratio", first.weight_grad_norm, last.weight_grad_norm, "weight-gradient norm ‖∂L/∂W‖"),
            # The back-propagated signal δ = ∂L/∂(layer output), the quantity mean-field theory follows (Π χ).
            # It catches a too-small or too-large init, where ∂L/∂W = δ hᵀ stays level across depth because
            # the backward factor of δ and the forward factor of h cancel.
            ("backprop_grad_ratio", first.out_grad_rms, last.out_grad_rms, "back-propagated gradient RMS ‖∂L/∂y‖"),
        )
        for metric, num, den, what in checks:
            if num is None or not den:
                continue
            ratio = num / den
            if ratio < th.vanishing_ratio:
                message = f"{what}, first/last layer ({span}): {ratio:.2g} < {th.vanishing_ratio:g}"
                flags.append(Flag("vanishing", metric, first.name, ratio, th.vanishing_ratio, message))
            elif ratio > th.exploding_ratio:
                message = f"{what}, first/last layer ({span}): {ratio:.2g} > {th.exploding_ratio:g}"
                flags.append(Flag("exploding", metric, first.name, ratio, th.exploding_ratio, message))
    too_big = [
        r
        for r in rows
        if r.role == "weight" and r.grad_data_ratio is not None and r.grad_data_ratio > th.max_grad_data_ratio
    ]
    if too_big:
        worst = max(too_big, key=lambda r: r.grad_data_ratio or 0.0)
        flags.append(
            Flag(
                "exploding",
                "grad_data_ratio",
                worst.name,
                float(worst.grad_data_ratio or math.nan),
                th.max_grad_data_ratio,
                f"‖∇W‖/‖W‖ is {worst.grad_data_ratio:.2g} at {display_name(worst.name)} "
                f"(> {th.max_grad_data_ratio:g} in {len(too_big)} layer(s))",
            )
        )
    for r in rows:
        if r.saturated_fraction is not None and r.saturated_fraction > th.max_saturated_fraction:
            flags.append(
                Flag(
                    "saturation",
                    "saturated_fraction",
                    r.name,
                    r.saturated_fraction,
                    th.max_saturated_fraction,
                    f"{display_name(r.name)} ({r.kind}): {pct(r.saturated_fraction)} of values saturated "
                    f"(> {pct(th.max_saturated_fraction)})",
                )
            )
        if r.dead_fraction is not None and r.dead_fraction > th.max_dead_fraction:
            flags.append(
                Flag(
                    "dead_units",
                    "dead_fraction",
                    r.name,
                    r.dead_fraction,
                    th.max_dead_fraction,
                    f"{display_name(r.name)} ({r.kind}): {pct(r.dead_fraction)} of units are ≤ 0 for the whole "
                    f"batch (> {pct(th.max_dead_fraction)})",
                )
            )
    return flags
