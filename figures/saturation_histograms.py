"""Per-layer histograms of activations and back-propagated gradients, tanh/sigmoid × U(±1/√n)/Xavier (Glorot 6–7)."""

from __future__ import annotations

import itertools
import math
import statistics

from _protocol import BATCH, SEEDS, step_outline
from matplotlib import colormaps

from gradnotes.engine import theory
from gradnotes.engine.cache import cached_many
from gradnotes.engine.spec import Spec
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "activation_value": {"ko": "활성값 h", "en": "activation h"},
    "backprop_gradient": {"ko": "역전파 기울기 ∂L/∂a", "en": "back-propagated gradient ∂L/∂a"},
    "uniform_inv_sqrt_n": {"ko": "U(±1/√n)", "en": "U(±1/√n)"},
    "rms": {"ko": "RMS", "en": "RMS"},
}
t = translator(LABELS)

ACTIVATIONS = ("tanh", "sigmoid")
INITS = ("torch_default", "xavier_uniform")  # torch_default is U(±1/√n_in), the "standard" init of Glorot & Bengio
DEPTH = 5  # Glorot & Bengio's five hidden layers
WIDTH = 256
BINS = 40
GRAD_RANGE_SIGMAS = 4.5  # gradient bins span ±4.5 × the largest predicted per-layer RMS: tails included


def _spec(activation: str, init: str, seed: int, grad_range: tuple[float, float] | None) -> Spec:
    return Spec(
        activation=activation,
        init=init,
        depth=DEPTH,
        width=WIDTH,
        batch=BATCH,
        seed=seed,
        hist_bins=BINS,
        hist_grad_range=grad_range,
    )


def _grad_range(activation: str, init: str) -> tuple[float, float]:
    """Fixed gradient bins from the mean-field RMS, so that the five seeds' histograms can be summed."""
    prediction = theory.predict(_spec(activation, init, 0, None))
    largest = max(norm / math.sqrt(BATCH * WIDTH) for norm in prediction.preact_grad_norm)
    bound = float(f"{GRAD_RANGE_SIGMAS * largest:.3g}")  # rounded: a readable, stable bin range
    return (-bound, bound)


def compute() -> dict:
    """Histograms summed over the seeds (same edges), the RMS of ∂L/∂a per layer, and out-of-range counts."""
    cases = [(a, i) for a in ACTIVATIONS for i in INITS]
    ranges = {case: _grad_range(*case) for case in cases}
    specs = [_spec(a, i, s, ranges[a, i]) for a, i in cases for s in SEEDS]
    found = iter(cached_many(specs))
    networks = {}
    for activation, init in cases:
        runs = [next(found) for _ in SEEDS]
        entry: dict = {}
        for kind in ("act", "preact_grad"):
            hists = [r.histograms[kind] for r in runs]
            entry[kind] = {
                "edges": hists[0]["edges"],
                "counts": [[sum(h["counts"][layer][b] for h in hists) for b in range(BINS)] for layer in range(DEPTH)],
                "outside": [sum(h["below"][layer] + h["above"][layer] for h in hists) for layer in range(DEPTH)],
            }
        entry["grad_rms"] = [
            10 ** statistics.fmean(math.log10(r.preact_grad_norm[layer] / math.sqrt(BATCH * WIDTH)) for r in runs)
            for layer in range(DEPTH)
        ]
        networks[f"{activation}/{init}"] = entry
    return {
        "config": {"depth": DEPTH, "width": WIDTH, "batch": BATCH, "seeds": list(SEEDS), "bins": BINS},
        "samples_per_layer": BATCH * WIDTH * len(SEEDS),
        "networks": networks,
    }


def histogram_std(hist: dict, layer: int) -> float:
    """Standard deviation of one layer's histogram (bin centres weighted by counts)."""
    edges, counts = hist["edges"], hist["counts"][layer]
    centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    total = sum(counts)
    mean = sum(c * x for c, x in zip(counts, centres, strict=True)) / total
    return math.sqrt(sum(c * (x - mean) ** 2 for c, x in zip(counts, centres, strict=True)) / total)


def _pretty(value: float) -> str:
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}".replace("-", "−")


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 6.2)
    rows = fig.subfigures(2, 1, hspace=0.02)
    axes = [row.subplots(1, 4, sharey=True) for row in rows]
    rows[0].supxlabel(t("activation_value", lang), fontsize=10)
    rows[1].supxlabel(t("backprop_gradient", lang), fontsize=10)
    colors = [colormaps["viridis"](0.85 * k / (DEPTH - 1)) for k in range(DEPTH)]
    columns = [(a, i) for a in ACTIVATIONS for i in INITS]
    for col, (activation, init) in enumerate(columns):
        network = data["networks"][f"{activation}/{init}"]
        init_label = t("uniform_inv_sqrt_n" if init == "torch_default" else init, lang)
        for row, kind in enumerate(("act", "preact_grad")):
            ax = axes[row][col]
            hist = network[kind]
            edges = hist["edges"]
            for layer in range(DEPTH):
                counts = hist["counts"][layer]
                peak = max(counts)
                # each layer scaled to its own peak: the width is what compares between layers
                xs, ys = step_outline(edges, [0.9 * c / peak for c in counts])
                ax.fill(
                    xs,
                    [layer + y for y in ys],
                    facecolor=(*colors[layer][:3], 0.55),
                    edgecolor=colors[layer],
                    linewidth=1.0,
                )
                if kind == "preact_grad":
                    ax.text(
                        edges[-1],
                        layer + 0.45,
                        _pretty(network["grad_rms"][layer]),
                        ha="right",
                        va="center",
                        fontsize=7,
                        color="#333333",
                    )
            if kind == "preact_grad":
                ax.text(edges[-1], DEPTH - 0.05, t("rms", lang), ha="right", va="top", fontsize=7, color="#333333")
            ax.set_xlim(edges[0], edges[-1])
            ax.grid(axis="y", visible=False)
            ax.set_yticks([k + 0.3 for k in range(DEPTH)], [str(k + 1) for k in range(DEPTH)])
            ax.tick_params(axis="y", length=0)
            ax.tick_params(axis="x", labelsize=8)
            ax.locator_params(axis="x", nbins=3)  # few tick labels: each one is drawn as paths
            if row == 0:
                ax.set_title(f"{t(activation, lang)} · {init_label}", fontsize=10)
    for row in axes:
        row[0].set_ylabel(t("layer", lang))
        row[0].set_ylim(0, DEPTH)
    return fig


def check(data: dict) -> None:
    total = data["samples_per_layer"]
    for key, network in data["networks"].items():
        for kind in ("act", "preact_grad"):
            assert max(network[kind]["outside"]) <= 0.001 * total, f"{key}: the {kind} bins hold ≥ 99.9 % of values"
    act_std = {k: [histogram_std(n["act"], layer) for layer in range(DEPTH)] for k, n in data["networks"].items()}
    rms = {k: n["grad_rms"] for k, n in data["networks"].items()}

    def shrink(values: list[float], first: int, last: int) -> float:
        return values[last] / values[first]

    old, xavier = "tanh/torch_default", "tanh/xavier_uniform"
    assert shrink(act_std[old], 0, -1) < 0.2, "tanh + U(±1/√n): activations narrow by over 5× from layer 1 to 5"
    assert shrink(rms[old], -1, 0) < 0.2, "tanh + U(±1/√n): gradients narrow by over 5× from layer 5 down to 1"
    assert shrink(act_std[xavier], 0, -1) > 0.4, "tanh + Xavier: activations keep over 40 % of their width"
    assert shrink(rms[xavier], -1, 0) > 0.33, "tanh + Xavier: gradients keep over a third of their width"
    for values in (act_std, rms):
        assert abs(math.log(shrink(values[xavier], 0, -1))) < 0.5 * abs(math.log(shrink(values[old], 0, -1))), (
            "tanh: from layer 1 to 5 Xavier changes the widths by at most half as many decades as U(±1/√n)"
        )
    for init in INITS:
        assert shrink(rms[f"sigmoid/{init}"], -1, 0) < 0.02, (
            f"sigmoid + {init}: gradients narrow by over 50× to layer 1"
        )
        assert all(b > a for a, b in itertools.pairwise(rms[f"sigmoid/{init}"])), (
            f"sigmoid + {init}: the gradient narrows at every layer toward the input"
        )


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
