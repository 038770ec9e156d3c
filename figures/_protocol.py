"""Shared by the engine figures: the protocol grid (one batched, cached run), seed statistics and drawing helpers."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from gradnotes.engine.cache import cached_many
from gradnotes.engine.sim import Result
from gradnotes.engine.spec import CORE_ACTIVATIONS, CORE_INITS, Spec
from gradnotes.site import style

# The site's protocol (docs/index.md), at a batch of 30: the engine then runs each network on one thread
# (batch * width^2 < 2e6 multiply-adds per layer), which matters when the build runs two figure workers on two cores.
DEPTH = 30
WIDTH = 256
BATCH = 30
SEEDS = (0, 1, 2, 3, 4)
GRID_INITS = (*CORE_INITS, "torch_default")
GRID_ACTIVATIONS = CORE_ACTIVATIONS
# (activation, init, norm) beyond the no-norm grid that other figures need at the protocol's sizes
_NORMED = [("relu", init, "batchnorm") for init in GRID_INITS] + [
    ("leaky_relu", "he_normal", "batchnorm"),
    ("relu", "he_normal", "layernorm"),
    ("sigmoid", "xavier_normal", "batchnorm"),
    ("sigmoid", "xavier_normal", "layernorm"),
]


def protocol_spec(activation: str, init: str, norm: str = "none", seed: int = 0) -> Spec:
    """One network of the protocol grid."""
    return Spec(activation=activation, init=init, norm=norm, depth=DEPTH, width=WIDTH, batch=BATCH, seed=seed)


def _grid_cases() -> list[tuple[str, str, str]]:
    plain = [(a, i, "none") for a in GRID_ACTIVATIONS for i in GRID_INITS]
    return plain + _NORMED


def protocol_results() -> dict[tuple[str, str, str], list[Result]]:
    """Every network of the shared grid, one list over SEEDS per (activation, init, norm).

    All of it is requested at once, so that the engine draws each (init, seed) weight set once for every activation
    and norm, and whichever figure comes first leaves the rest a warm cache.
    """
    cases = _grid_cases()
    specs = [protocol_spec(a, i, n, s) for a, i, n in cases for s in SEEDS]
    found = cached_many(specs)
    grouped: dict[tuple[str, str, str], list[Result]] = {}
    for spec, result in zip(specs, found, strict=True):
        grouped.setdefault((spec.activation, spec.init, spec.norm), []).append(result)
    return grouped


def config(**extra: object) -> dict:
    """The simulation settings a figure's data records (shown nowhere, kept so the numbers can be traced)."""
    return {"depth": DEPTH, "width": WIDTH, "batch": BATCH, "seeds": list(SEEDS), "loss": "random_projection", **extra}


# ---------------------------------------------------------------- statistics over seeds


def finite_positive(value: float | None) -> bool:
    """True for a number that a log axis can show."""
    return value is not None and math.isfinite(value) and value > 0


def log_mean(values: Sequence[float]) -> float:
    """Geometric mean of positive finite values (NaN if any is not): the centre of a log-scale band."""
    if not values or not all(finite_positive(v) for v in values):
        return math.nan
    return 10 ** statistics.fmean(math.log10(v) for v in values)


def per_layer(runs: Sequence[Sequence[float]]) -> dict[str, list[float]]:
    """Per layer over seeds: geometric mean, min and max (runs = one list per seed)."""
    columns = list(zip(*runs, strict=True))
    return {
        "mean": [log_mean(c) for c in columns],
        "min": [min(c) for c in columns],
        "max": [max(c) for c in columns],
    }


def seed_mean(runs: Sequence[float] | Sequence[Sequence[float]]) -> float | list[float]:
    """Arithmetic mean over the seed axis (the first): of one number per seed a number, of one list per seed a list."""
    if runs and isinstance(runs[0], Sequence):
        return [statistics.fmean(column) for column in zip(*runs, strict=True)]
    return statistics.fmean(runs)


def log10_slope(values: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of log10(values) per layer, and the largest residual (decades) from that line."""
    ys = [math.log10(v) for v in values]
    xs = list(range(len(ys)))
    x_mean, y_mean = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / sum((x - x_mean) ** 2 for x in xs)
    residual = max(abs(y - (y_mean + slope * (x - x_mean))) for x, y in zip(xs, ys, strict=True))
    return slope, residual


def log10_ratio(values: Sequence[float]) -> float:
    """log10(layer 1 / last layer), NaN when an end is not a positive finite number."""
    first, last = values[0], values[-1]
    if not (finite_positive(first) and finite_positive(last)):
        return math.nan
    return math.log10(first) - math.log10(last)


# ---------------------------------------------------------------- drawing


def step_outline(edges: Sequence[float], heights: Sequence[float]) -> tuple[list[float], list[float]]:
    """Closed step outline of a histogram (bars as one path); runs of equal bars are merged to keep the SVG small."""
    xs: list[float] = []
    ys: list[float] = []
    previous = 0.0
    for k, height in enumerate(heights):
        if k and height == heights[k - 1]:
            continue
        xs += [edges[k], edges[k]]
        ys += [previous, height]
        previous = height
    return xs + [edges[-1], edges[-1]], ys + [previous, 0.0]


def layers(count: int) -> list[int]:
    """Layer indices 1..count, as the axes label them."""
    return list(range(1, count + 1))


def layer_axis(ax, depth: int) -> None:
    """An x axis of layers 1..depth, ticked at 1 and every fifth layer."""
    ax.set_xlim(1, depth)
    ax.set_xticks([1, *range(5, depth + 1, 5)])


def band(ax, xs: Sequence[float], stats: dict[str, list[float]], color: str, label: str | None = None, **kw) -> None:
    """Geometric mean over seeds as a line, the seed min-max as a shaded band; non-finite points are left out."""
    keep = [k for k, v in enumerate(stats["mean"]) if finite_positive(v)]
    x = [xs[k] for k in keep]
    ax.fill_between(
        x, [stats["min"][k] for k in keep], [stats["max"][k] for k in keep], color=color, alpha=0.22, linewidth=0
    )
    ax.plot(x, [stats["mean"][k] for k in keep], color=color, label=label, **{"linewidth": 2.4, **kw})


THEORY_STYLE = {"color": "#222222", "linestyle": (0, (3, 2)), "linewidth": 1.0}


def theory_line(ax, xs: Sequence[float], values: Sequence[float], label: str | None = None) -> None:
    """A prediction: thin, dark and dashed, drawn over the thicker simulation line so that both stay visible."""
    ax.plot(xs, values, label=label, zorder=3, **THEORY_STYLE)


def legend_band_entry(ax, label: str) -> None:
    """One neutral legend entry that explains the shaded seed range."""
    ax.fill_between([], [], [], color=style.PALETTE["grey"], alpha=0.3, linewidth=0, label=label)


def legend_theory_entry(ax, label: str) -> None:
    """One neutral legend entry that explains the dashed theory lines."""
    ax.plot([], [], label=label, **THEORY_STYLE)
