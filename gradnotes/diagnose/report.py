"""The result of a diagnosis: one row of statistics per layer, the flags, and their text table and plain-data forms."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

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
        """Plain data for JSON; NaN and ±inf stay floats here (the CLI prints strict JSON: ``strictjson.dumps``)."""
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
