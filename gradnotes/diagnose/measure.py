"""Diagnose any torch model: per-layer activation and gradient statistics from one batch, with flagged problems.

``diagnose(model, batch, loss_fn)`` runs one forward and one backward pass with hooks on every module that owns
parameters or is a known activation, and returns a :class:`Report`. It leaves no trace on the model: hooks are
removed (also when ``loss_fn`` raises), ``.grad`` is untouched (gradients come from ``torch.autograd.grad``), buffers
such as BatchNorm's running statistics are restored and the global random state is forked.

What the hooks cannot see: activations applied as functions inside ``forward`` (``torch.sigmoid(x)``, ``F.relu``,
the gates inside ``nn.LSTM``, the activation inside ``nn.TransformerEncoderLayer``) get no row of their own; their
effect still shows in the gradients of the layers around them.

``torch`` and ``matplotlib`` are imported inside functions so that ``gradnotes --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradnotes.errors import UserError

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure

# Activation modules by what can go wrong with them. Subclasses count (nn.ReLU6 is an nn.Hardtanh, so order matters).
DEAD_PRONE = ("ReLU", "ReLU6")
SATURATING = ("Sigmoid", "Tanh", "Softsign", "Hardtanh", "Hardsigmoid")
OTHER_ACTIVATIONS = (
    "LeakyReLU",
    "PReLU",
    "RReLU",
    "ELU",
    "SELU",
    "CELU",
    "GELU",
    "SiLU",
    "Mish",
    "Softplus",
    "Hardswish",
    "LogSigmoid",
)
EXIT_HEALTHY, EXIT_FLAGGED, EXIT_BAD_INPUT = 0, 1, 2


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

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise UserError(f"threshold {f.name} must be a positive number, got {value!r}")
        for name in ("saturation_slope", "max_saturated_fraction", "max_dead_fraction"):
            if getattr(self, name) >= 1:
                raise UserError(f"threshold {name} is a fraction: it must be below 1, got {getattr(self, name)!r}")


@dataclass
class LayerStats:
    """One module's statistics; ``None`` means not measured (e.g. a module whose ``forward`` is never called)."""

    name: str
    kind: str
    role: str  # "weight" | "norm" | "embedding" | "activation" | "other"
    calls: int
    parameters: int
    act_mean: float | None = None
    act_std: float | None = None
    saturated_fraction: float | None = None
    dead_fraction: float | None = None
    grad_norm: float | None = None  # ‖∂L/∂θ‖ over the module's own parameters (weights and biases)
    weight_grad_norm: float | None = None  # ‖∂L/∂W‖ over its weights (parameters with ≥ 2 dimensions, else all)
    weight_norm: float | None = None  # ‖W‖ over its weights (parameters with ≥ 2 dimensions, else all)
    grad_data_ratio: float | None = None  # ‖∂L/∂W‖ / ‖W‖
    out_grad_rms: float | None = None  # RMS of ∂L/∂(module output)
    nonfinite_activations: int = 0
    nonfinite_gradients: int = 0


@dataclass
class Flag:
    """A problem found in the report, with the measured value and the threshold it crossed."""

    kind: str  # "vanishing" | "exploding" | "saturation" | "dead_units" | "non_finite"
    metric: str
    layer: str | None
    value: float
    threshold: float
    message: str


@dataclass
class Report:
    """The result of :func:`diagnose`: the loss, one row per layer in forward order, and the flags."""

    loss: float
    layers: list[LayerStats]
    flags: list[Flag]
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def healthy(self) -> bool:
        """True when nothing was flagged."""
        return not self.flags

    def layer(self, name: str) -> LayerStats:
        """The row of the module called ``name`` (as in ``model.named_modules()``)."""
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(f"no layer {name!r} in the report")

    def flagged(self, kind: str) -> list[Flag]:
        """The flags of one kind."""
        return [f for f in self.flags if f.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``json.dumps``; NaN and ±inf stay floats (``json`` writes them as NaN/Infinity)."""
        return {
            "loss": self.loss,
            "healthy": self.healthy,
            "thresholds": dataclasses.asdict(self.thresholds),
            "layers": [dataclasses.asdict(row) for row in self.layers],
            "flags": [dataclasses.asdict(flag) for flag in self.flags],
        }

    def table(self) -> str:
        """A fixed-width text table of the layers, followed by the flags."""
        head = ("layer", "kind", "act mean", "act std", "saturated", "dead", "‖∂L/∂W‖", "‖∂L/∂W‖/‖W‖", "∂L/∂y rms")
        rows = [
            (
                _display_name(r.name),
                r.kind,
                _fmt(r.act_mean),
                _fmt(r.act_std),
                _pct(r.saturated_fraction),
                _pct(r.dead_fraction),
                _fmt(r.weight_grad_norm),
                _fmt(r.grad_data_ratio),
                _fmt(r.out_grad_rms),
            )
            for r in self.layers
        ]
        widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
        lines = [
            "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            for row in [head, *rows]
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append("")
        if self.flags:
            lines.append(f"{len(self.flags)} problem(s) flagged:")
            lines.extend(f"  [{f.kind}] {f.message}" for f in self.flags)
        else:
            lines.append("no problem flagged")
        return "\n".join(lines)


def _display_name(name: str) -> str:
    return name or "(model)"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


class _Accumulator:
    """Running per-module sums over every forward call (a module may run several times, e.g. in a loop)."""

    def __init__(self) -> None:
        self.calls = 0
        self.order: int | None = None
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0  # sum of squared deviations (Chan et al.'s parallel update keeps it exact enough in float64)
        self.nonfinite = 0
        self.saturated = 0
        self.saturation_count = 0
        self.alive: torch.Tensor | None = None
        self.dead_defined = True
        self.grad_sq = 0.0
        self.grad_count = 0
        self.nonfinite_grad = 0

    def add_activation(self, x: torch.Tensor) -> None:
        import torch

        x = x.detach().to(torch.float64)
        n = x.numel()
        if n == 0:
            return
        self.nonfinite += int((~torch.isfinite(x)).sum())
        mean = float(x.mean())
        m2 = float(((x - mean) ** 2).sum()) if math.isfinite(mean) else math.nan
        total = self.count + n
        delta = mean - self.mean
        self.m2 = self.m2 + m2 + delta * delta * self.count * n / total
        self.mean = self.mean + delta * n / total
        self.count = total

    def add_saturation(self, saturated: torch.Tensor) -> None:
        self.saturated += int(saturated.sum())
        self.saturation_count += saturated.numel()

    def add_alive(self, y: torch.Tensor) -> None:
        # A unit is one position of a sample's output (a feature, or a channel at one pixel); alive if > 0 somewhere.
        alive = (y.detach() > 0).any(dim=0) if y.dim() >= 2 else y.detach() > 0
        if self.alive is None:
            self.alive = alive
        elif self.alive.shape == alive.shape:
            self.alive = self.alive | alive
        else:
            self.dead_defined = False

    def add_grad(self, grad: torch.Tensor) -> None:
        import torch

        g = grad.detach().to(torch.float64)
        self.nonfinite_grad += int((~torch.isfinite(g)).sum())
        self.grad_sq += float((g * g).sum())
        self.grad_count += g.numel()


def _first_tensor(obj: Any) -> torch.Tensor | None:
    """The first floating-point tensor in a module's output (nn.LSTM and nn.MultiheadAttention return tuples)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj if obj.is_floating_point() else None
    if isinstance(obj, (tuple, list)):  # PackedSequence is a tuple too: its first field is the data
        for item in obj:
            found = _first_tensor(item)
            if found is not None:
                return found
    if isinstance(obj, dict):
        for item in obj.values():
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _activation_kind(module: torch.nn.Module) -> str | None:
    """ "dead" for the ReLU family, "saturating" for sigmoid-like ones, "other" for other activations, else None."""
    import torch.nn as nn

    if isinstance(module, tuple(getattr(nn, n) for n in DEAD_PRONE)):
        return "dead"
    if isinstance(module, tuple(getattr(nn, n) for n in SATURATING)):
        return "saturating"
    if isinstance(module, tuple(getattr(nn, n) for n in OTHER_ACTIVATIONS if hasattr(nn, n))):
        return "other"
    return None


def _saturated(module: torch.nn.Module, y: torch.Tensor, slope: float) -> torch.Tensor:
    """Where φ′(z) < slope · φ′(0), decided from the output y = φ(z) alone."""
    import torch.nn as nn

    y = y.detach()
    if isinstance(module, nn.Sigmoid):  # σ′ = σ(1 − σ) = (1 − (2σ − 1)²)/4 and σ′(0) = 1/4
        return (2 * y - 1).abs() > math.sqrt(1 - slope)
    if isinstance(module, nn.Tanh):  # tanh′ = 1 − tanh², tanh′(0) = 1
        return y.abs() > math.sqrt(1 - slope)
    if isinstance(module, nn.Softsign):  # y = z/(1 + |z|): softsign′ = (1 − |y|)², softsign′(0) = 1
        return y.abs() > 1 - math.sqrt(slope)
    if isinstance(module, nn.Hardtanh):  # slope 0 outside [min_val, max_val]
        return (y <= module.min_val) | (y >= module.max_val)
    return (y <= 0) | (y >= 1)  # Hardsigmoid: slope 0 where it is clipped to 0 or 1


def _role(module: torch.nn.Module, own: list[torch.nn.Parameter]) -> str:
    import torch.nn as nn

    if _activation_kind(module) is not None:
        return "activation"
    norms = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm) + (
        (nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()
    )
    if isinstance(module, norms):
        return "norm"
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return "embedding"  # only the looked-up rows get a gradient: not comparable with dense layers
    if any(p.dim() >= 2 for p in own):
        return "weight"
    return "other"


def _norm(tensors: list[torch.Tensor]) -> float:
    import torch

    return math.sqrt(sum(float(t.detach().to(torch.float64).pow(2).sum()) for t in tensors))


def _compute_loss(model: torch.nn.Module, batch: Any, loss_fn: Callable[..., Any]) -> torch.Tensor:
    import torch

    if isinstance(loss_fn, torch.nn.modules.loss._Loss):  # a criterion such as nn.CrossEntropyLoss(): batch = (x, y)
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise UserError(f"with a criterion such as {type(loss_fn).__name__}, the batch must be (inputs, targets)")
        loss = loss_fn(model(batch[0]), batch[1])
    else:
        loss = loss_fn(model, batch)
    if not isinstance(loss, torch.Tensor):
        raise UserError(f"the loss function must return a scalar tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise UserError(
            f"the loss must be a scalar, got a tensor of shape {tuple(loss.shape)} (reduce it, e.g. .mean())"
        )
    if not loss.is_floating_point() or not loss.requires_grad:
        raise UserError("the loss does not depend on any parameter that requires grad")
    return loss.reshape(())


def diagnose(
    model: torch.nn.Module,
    batch: Any,
    loss_fn: Callable[..., Any],
    *,
    thresholds: Thresholds | None = None,
) -> Report:
    """Run one forward/backward pass of ``loss_fn(model, batch)`` and report per-layer statistics and problems.

    ``loss_fn(model, batch)`` returns the scalar loss; a torch criterion (``nn.CrossEntropyLoss()``) is also accepted,
    with ``batch = (inputs, targets)``. Exceptions from the model or the loss propagate; hooks are removed either way.
    """
    import torch

    thresholds = thresholds or Thresholds()
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"the model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise UserError(f"the loss function must be callable, got {type(loss_fn).__name__}")

    modules = dict(model.named_modules())
    owner: dict[int, str] = {}  # parameter id -> the first module that owns it (tied weights are counted once)
    own_params: dict[str, list[torch.nn.Parameter]] = {}
    for name, module in modules.items():
        own_params[name] = []
        for p in module.parameters(recurse=False):
            if id(p) not in owner:
                owner[id(p)] = name
                own_params[name].append(p)
    watched = [n for n, m in modules.items() if own_params[n] or _activation_kind(m) is not None]
    if not any(p.requires_grad for ps in own_params.values() for p in ps):
        raise UserError("the model has no parameter that requires grad")

    acc = {name: _Accumulator() for name in watched}
    counter = iter(range(10**9))
    handles: list[Any] = []
    tensor_handles: list[Any] = []

    def pre_hook(name: str) -> Callable[..., None]:
        def hook(module: torch.nn.Module, args: Any) -> None:
            a = acc[name]
            if a.order is None:  # a pre-hook fires on entry: a container precedes the layers inside it
                a.order = next(counter)

        return hook

    def post_hook(name: str, module: torch.nn.Module) -> Callable[..., None]:
        kind = _activation_kind(module)

        def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
            a = acc[name]
            a.calls += 1
            y = _first_tensor(output)
            if y is None:
                return
            a.add_activation(y)  # now: an in-place op that follows (ReLU(inplace=True)) would change y
            if kind == "saturating":
                a.add_saturation(_saturated(module, y, thresholds.saturation_slope))
            elif kind == "dead":
                a.add_alive(y)
            if y.requires_grad:
                tensor_handles.append(y.register_hook(lambda g: a.add_grad(g)))

        return hook

    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        for name in watched:
            module = modules[name]
            handles.append(module.register_forward_pre_hook(pre_hook(name)))
            handles.append(module.register_forward_hook(post_hook(name, module)))
        with torch.random.fork_rng(devices=[]):  # dropout inside the pass must not shift the reader's random stream
            loss = _compute_loss(model, batch, loss_fn)
            params = [p for name in watched for p in own_params[name] if p.requires_grad]
            grads = torch.autograd.grad(loss, params, allow_unused=True)
    finally:
        for handle in handles + tensor_handles:
            handle.remove()
        with torch.no_grad():  # BatchNorm in training mode updated its running statistics: put them back
            for buffer, saved in buffers:
                buffer.copy_(saved)

    grad_of = {id(p): g for p, g in zip(params, grads, strict=True)}
    rows = [_row(name, modules[name], own_params[name], acc[name], grad_of) for name in watched]
    rows = _forward_order(rows, acc)
    return Report(
        loss=float(loss.detach()),
        layers=rows,
        flags=_flags(float(loss.detach()), rows, thresholds),
        thresholds=thresholds,
    )


def _row(
    name: str,
    module: torch.nn.Module,
    own: list[torch.nn.Parameter],
    a: _Accumulator,
    grad_of: dict[int, torch.Tensor | None],
) -> LayerStats:
    role = _role(module, own)
    kind = _activation_kind(module)
    row = LayerStats(
        name=name, kind=type(module).__name__, role=role, calls=a.calls, parameters=sum(p.numel() for p in own)
    )
    if a.count:
        row.act_mean = a.mean
        row.act_std = math.sqrt(a.m2 / a.count) if math.isfinite(a.m2) else math.nan
        row.nonfinite_activations = a.nonfinite
    if kind == "saturating" and a.saturation_count:
        row.saturated_fraction = a.saturated / a.saturation_count
    if kind == "dead" and a.alive is not None and a.dead_defined:
        row.dead_fraction = 1.0 - float(a.alive.float().mean())
    if a.grad_count:
        row.out_grad_rms = math.sqrt(a.grad_sq / a.grad_count)
    with_grad = [(p, grad_of[id(p)]) for p in own if grad_of.get(id(p)) is not None]
    if with_grad:
        import torch

        row.grad_norm = _norm([g for _, g in with_grad])
        row.nonfinite_gradients = sum(int((~torch.isfinite(g)).sum()) for _, g in with_grad)
        weights = [(p, g) for p, g in with_grad if p.dim() >= 2] or with_grad
        row.weight_norm = _norm([p for p, _ in weights])
        row.weight_grad_norm = _norm([g for _, g in weights])
        row.grad_data_ratio = (
            row.weight_grad_norm / row.weight_norm if row.weight_norm > 0 else None
        )  # zero-initialised W: no ratio
    return row


def _forward_order(rows: list[LayerStats], acc: dict[str, _Accumulator]) -> list[LayerStats]:
    """Rows sorted by first call; a module never called (MultiheadAttention's out_proj) goes after its caller."""

    def key(row: LayerStats) -> tuple[float, str]:
        name = row.name
        while True:
            order = acc[name].order if name in acc else None
            if order is not None:
                return (order + (0.5 if name != row.name else 0.0), row.name)
            if not name:
                return (math.inf, row.name)
            name = name.rpartition(".")[0]

    return sorted(rows, key=key)


def _flags(loss: float, rows: list[LayerStats], th: Thresholds) -> list[Flag]:
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
                f"{_display_name(first.name)} is the first layer whose output holds NaN/inf "
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
                f"{_display_name(bad_grad[-1].name)}",
            )
        )

    # Depth: the first and the last dense weight layer that actually ran, in forward order, compared twice.
    depth = [r for r in rows if r.role == "weight" and r.calls > 0]
    if len(depth) >= 2:
        first, last = depth[0], depth[-1]
        span = f"{_display_name(first.name)} → {_display_name(last.name)}"
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
                f"‖∇W‖/‖W‖ is {worst.grad_data_ratio:.2g} at {_display_name(worst.name)} "
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
                    f"{_display_name(r.name)} ({r.kind}): {_pct(r.saturated_fraction)} of values saturated "
                    f"(> {_pct(th.max_saturated_fraction)})",
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
                    f"{_display_name(r.name)} ({r.kind}): {_pct(r.dead_fraction)} of units are ≤ 0 for the whole "
                    f"batch (> {_pct(th.max_dead_fraction)})",
                )
            )
    return flags


# --- plot --------------------------------------------------------------------------------------------------------


# The plot's own texts (merged over the site's glossary by labels.translator).
LABELS = {
    "backprop_rms": {"ko": "역전파 기울기 RMS ‖∂L/∂y‖", "en": "back-propagated gradient RMS ‖∂L/∂y‖"},
    "gradient": {"ko": "기울기", "en": "gradient"},
    "grad_data_ratio": {"ko": "기울기 대 가중치 비 ‖∂L/∂W‖/‖W‖", "en": "grad:data ratio ‖∂L/∂W‖/‖W‖"},
    "act_std": {"ko": "출력의 표준편차", "en": "output standard deviation"},
    "unit_fraction": {"ko": "유닛 비율", "en": "fraction of units"},
    "threshold": {"ko": "경고 기준", "en": "threshold"},
    "layer_forward_order": {"ko": "층 (순전파 순서)", "en": "layer (forward order)"},
    "weight_outputs": {"ko": "가중치 층", "en": "weight layers"},
    "activation_outputs": {"ko": "활성화 함수", "en": "activation functions"},
}


def plot(report: Report, lang: str = "en") -> Figure:
    """A per-layer figure of the report: weight-gradient norm, grad:data ratio, activation std, saturated/dead units."""
    from gradnotes.site import style
    from gradnotes.site.labels import translator

    t = translator(LABELS)
    rows = report.layers
    fig = style.figure(style.PAGE_WIDTH, 7.2)
    axes = fig.subplots(2, 2, sharex=True)
    x = list(range(len(rows)))
    names = [_display_name(r.name) for r in rows]

    def series(values: list[float | None]) -> tuple[list[int], list[float]]:
        pairs = [(i, v) for i, v in zip(x, values, strict=True) if v is not None and math.isfinite(v) and v > 0]
        return [i for i, _ in pairs], [v for _, v in pairs]

    weight_rows = [r if r.role == "weight" else None for r in rows]
    ax = axes[0, 0]
    for values, marker, color, label in (
        ([r.weight_grad_norm if r else None for r in weight_rows], "o-", style.PALETTE["blue"], "weight_grad_norm"),
        ([r.out_grad_rms if r else None for r in weight_rows], "^-", style.PALETTE["green"], "backprop_rms"),
    ):
        xs, ys = series(values)
        if xs:
            ax.plot(xs, ys, marker, color=color, markersize=4, label=t(label, lang))
    ax.set_yscale("log")
    ax.set_ylabel(t("gradient", lang))
    ax.legend(loc="best")
    ax = axes[0, 1]
    xs, ys = series([r.grad_data_ratio if r else None for r in weight_rows])
    ax.plot(xs, ys, "o-", color=style.PALETTE["blue"], markersize=4)
    ax.axhline(
        report.thresholds.max_grad_data_ratio,
        color=style.PALETTE["vermillion"],
        linestyle="--",
        linewidth=1.2,
        label=t("threshold", lang),
    )
    ax.set_yscale("log")
    ax.set_ylabel(t("grad_data_ratio", lang))
    ax.legend(loc="lower right")
    ax = axes[1, 0]
    for role, marker, color, label in (
        ("weight", "o-", style.PALETTE["blue"], "weight_outputs"),
        ("activation", "s-", style.PALETTE["orange"], "activation_outputs"),
    ):
        xs, ys = series([r.act_std if r.role == role else None for r in rows])
        if xs:
            ax.plot(xs, ys, marker, color=color, markersize=4, label=t(label, lang))
    ax.set_yscale("log")
    ax.set_ylabel(t("act_std", lang))
    ax.legend(loc="best")

    ax = axes[1, 1]
    sat = [(i, r.saturated_fraction) for i, r in zip(x, rows, strict=True) if r.saturated_fraction is not None]
    dead = [(i, r.dead_fraction) for i, r in zip(x, rows, strict=True) if r.dead_fraction is not None]
    if sat:
        ax.bar(
            [i for i, _ in sat], [v for _, v in sat], color=style.COLORS["sigmoid"], label=t("saturated_fraction", lang)
        )
        ax.axhline(report.thresholds.max_saturated_fraction, color=style.COLORS["sigmoid"], linestyle="--", linewidth=1)
    if dead:
        ax.bar(
            [i for i, _ in dead], [v for _, v in dead], color=style.COLORS["relu"], label=t("dead_unit_fraction", lang)
        )
        ax.axhline(report.thresholds.max_dead_fraction, color=style.COLORS["relu"], linestyle=":", linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_ylabel(t("unit_fraction", lang))
    if sat or dead:
        ax.legend(loc="upper left")
    for ax in axes[1]:
        if len(rows) <= 48:  # beyond that, names overlap: the JSON and the table carry them
            ax.set_xticks(x, [f"{n} · {r.kind}" for n, r in zip(names, rows, strict=True)], rotation=90, fontsize=7)
        ax.set_xlabel(t("layer_forward_order", lang))
    return fig


# --- command line ------------------------------------------------------------------------------------------------


def split_target(target: str) -> tuple[Path, str]:
    """``path/to/file.py:function`` → (path, function); the function defaults to ``make_model``."""
    path_text, sep, func_name = target.rpartition(":")
    if not sep or "/" in func_name or func_name.endswith(".py"):
        path_text, func_name = target, "make_model"
    return Path(path_text), func_name


def load_factory(target: str) -> Callable[[], Any]:
    """Import ``path/to/file.py:function`` (the function defaults to ``make_model``) and return the function."""
    path, func_name = split_target(target)
    if path.suffix != ".py":
        raise UserError(f"expected path/to/file.py:function, got {target!r}")
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    if not func_name.isidentifier():
        raise UserError(f"{func_name!r} is not a Python function name")
    module_name = f"_gradnotes_diagnose_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))  # the reader's file may import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UserError(f"importing {path} failed: {_describe(exc, path)}") from None
    finally:
        sys.path.remove(str(path.resolve().parent))
    factory = getattr(module, func_name, None)
    if factory is None:
        raise UserError(f"{path} defines no {func_name}()")
    if not callable(factory):
        raise UserError(f"{path}:{func_name} is not callable")
    return factory


def _describe(exc: BaseException, path: Path | None = None) -> str:
    """``Type: message (file.py:line)``: one line that still says where the reader's code failed."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.lineno:
        where = f" ({Path(exc.filename or '?').name}:{exc.lineno})"
    elif frames:
        mine = [f for f in frames if path is not None and Path(f.filename).resolve() == path.resolve()]
        frame = (mine or frames)[-1]
        where = f" ({Path(frame.filename).name}:{frame.lineno})"
    return f"{type(exc).__name__}{': ' + text if text else ''}{where}"


def run_factory(target: str, thresholds: Thresholds | None = None) -> Report:
    """Load the factory, check what it returns, and diagnose; every failure is a one-line ``UserError``."""
    factory = load_factory(target)  # before importing torch: a wrong path fails fast
    import torch

    path = split_target(target)[0]
    torch.manual_seed(0)  # a factory that forgets to seed still gives the same report twice
    try:
        made = factory()
    except Exception as exc:
        raise UserError(f"{target} raised {_describe(exc, path)}") from None
    if not (isinstance(made, (tuple, list)) and len(made) == 3):
        got = f"a {len(made)}-tuple" if isinstance(made, (tuple, list)) else type(made).__name__
        raise UserError(f"{target} must return (model, batch, loss_fn), got {got}")
    model, batch, loss_fn = made
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"{target} must return (model, batch, loss_fn); its model is a {type(model).__name__}")
    if not callable(loss_fn):
        raise UserError(f"{target} must return (model, batch, loss_fn); its loss_fn is a {type(loss_fn).__name__}")
    try:
        return diagnose(model, batch, loss_fn, thresholds=thresholds)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"the forward/backward pass failed: {_describe(exc, path)}") from None


_THRESHOLD_HELP = {
    "vanishing_ratio": "flag vanishing when a first/last-layer gradient ratio (‖∂L/∂W‖ or ‖∂L/∂y‖) is below this",
    "exploding_ratio": "flag exploding when a first/last-layer gradient ratio is above this",
    "max_grad_data_ratio": "flag exploding when a layer's ‖∇W‖/‖W‖ is above this",
    "saturation_slope": "saturated where φ′(z) < this × φ′(0)",
    "max_saturated_fraction": "flag a sigmoid/tanh layer with more saturated values than this",
    "max_dead_fraction": "flag a ReLU layer with more dead units than this",
}


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def _cmd_diagnose(args: argparse.Namespace) -> int:
    thresholds = Thresholds(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Thresholds)})
    if args.plot is not None and Path(args.plot).suffix.lower() not in (".svg", ".png", ".pdf"):
        raise UserError(f"--plot must end in .svg, .png or .pdf, got {args.plot}")
    report = run_factory(args.target, thresholds)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(f"gradnotes diagnose {args.target}: loss {report.loss:.4g}, {len(report.layers)} layer(s)\n")
        print(report.table())
    if args.plot is not None:
        from gradnotes.site import style

        out = Path(args.plot)
        fig = plot(report, args.lang)
        try:
            if out.suffix.lower() == ".svg":
                out.write_bytes(style.save_svg(fig))
            else:
                fig.savefig(out)
        except OSError as exc:
            raise UserError(f"cannot write {out}: {exc.strerror}") from None
    return EXIT_FLAGGED if report.flags else EXIT_HEALTHY


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``gradnotes diagnose FILE.py:FUNCTION``."""
    p = subparsers.add_parser(
        "diagnose",
        help="per-layer gradient/activation report for your own model (exit 1 if a problem is flagged)",
        description="Run make_model() from FILE.py, which returns (model, batch, loss_fn) with loss_fn(model, batch) "
        "-> scalar loss; print per-layer statistics and flagged problems. Exit status: 0 healthy, 1 problems "
        "flagged, 2 bad input.",
    )
    p.add_argument("target", metavar="FILE.py[:FUNCTION]", help="the factory (FUNCTION defaults to make_model)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (NaN/Infinity kept)")
    p.add_argument("--plot", metavar="OUT.svg", help="write a per-layer plot (.svg, .png or .pdf)")
    p.add_argument("--lang", choices=("ko", "en"), default="en", help="language of the plot's labels")
    defaults = Thresholds()
    for f in dataclasses.fields(Thresholds):
        p.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=_positive,
            default=getattr(defaults, f.name),
            metavar="X",
            help=f"{_THRESHOLD_HELP[f.name]} (default {getattr(defaults, f.name):g})",
        )
    p.set_defaults(func=_cmd_diagnose)
