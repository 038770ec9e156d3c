"""The result of a diagnosis: one row of statistics per layer, the flags, and their text table and plain-data forms."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from gradnotes.diagnose.findings import Finding, verdict
from gradnotes.diagnose.rules import Flag, Thresholds
from gradnotes.diagnose.text import display_name, fmt, pct


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
    # Read from the model, for the findings' causes (schema 2).
    fan_in: int | None = None  # of the weight, as torch.nn.init computes it (in_features × kernel size)
    fan_out: int | None = None
    weight_std: float | None = None  # standard deviation of the weight's entries
    bias_mean: float | None = None
    spectral_radius: float | None = None  # recurrent modules: the largest |eigenvalue| of a hidden-to-hidden block
    time_grad_ratio: float | None = None  # recurrent modules: ‖∂(v·h_T)/∂x_1‖ / ‖∂(v·h_T)/∂x_T‖ on this batch


# JSON schema of Report.to_dict() and of watch logs. 1: loss, healthy, thresholds, layers, flags. 2 adds
# schema_version, verdict, findings [{kind, severity, layers, evidence, cause, fix, ...}], output, layers[].index and
# the model facts in each layer, training (with --steps). Keys are only ever added.
SCHEMA_VERSION = 2


@dataclass
class Report:
    """The result of :func:`diagnose`: the loss, one row per layer in forward order, and the flags."""

    loss: float
    layers: list[LayerStats]
    flags: list[Flag]
    thresholds: Thresholds = field(default_factory=Thresholds)
    findings: list[Finding] = field(default_factory=list)
    # Set when the loss is cross-entropy over C classes (recognised by recomputing it): ln C is the loss to expect.
    num_classes: int | None = None
    chance_loss: float | None = None
    logit_std: float | None = None
    training: dict[str, Any] | None = None  # training mode (``--steps``): the history and its summary

    @property
    def healthy(self) -> bool:
        """True when nothing was flagged and nothing was found."""
        return not self.flags and not self.findings

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
        """Plain data for JSON; NaN and ±inf stay floats here (the CLI prints strict JSON: ``strictjson.dumps``)."""
        data = {
            "schema_version": SCHEMA_VERSION,
            "loss": self.loss,
            "healthy": self.healthy,
            "verdict": verdict(self.findings),
            "findings": [finding.to_dict() for finding in self.findings],
            "thresholds": dataclasses.asdict(self.thresholds),
            "output": {"num_classes": self.num_classes, "chance_loss": self.chance_loss, "logit_std": self.logit_std},
            "layers": [{"index": i, **dataclasses.asdict(row)} for i, row in enumerate(self.layers, 1)],
            "flags": [dataclasses.asdict(flag) for flag in self.flags],
        }
        if self.training is not None:
            data["training"] = self.training
        return data

    def summary(self) -> str:
        """The verdict, then one paragraph per finding: evidence, probable cause, fix."""
        from gradnotes.diagnose.findings import render

        return render(self.findings)

    def table(self) -> str:
        """A fixed-width text table of the layers, followed by the flags."""
        head = ("#", "layer", "kind", "act mean", "act std", "saturated", "dead", "‖∂L/∂W‖", "‖∂L/∂W‖/‖W‖", "∂L/∂y rms")
        rows = [
            (
                str(i),
                display_name(r.name),
                r.kind,
                fmt(r.act_mean),
                fmt(r.act_std),
                pct(r.saturated_fraction),
                pct(r.dead_fraction),
                fmt(r.weight_grad_norm),
                fmt(r.grad_data_ratio),
                fmt(r.out_grad_rms),
            )
            for i, r in enumerate(self.layers, 1)
        ]
        widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
        lines = [
            "  ".join(
                c.ljust(w) if 1 <= i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
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
