"""Activation scale per layer of a ReLU net for seven inits: 120 decades apart without BN, one curve with BN."""

from __future__ import annotations

import math

from _protocol import GRID_INITS, config, layer_axis, layers, per_layer, protocol_results

from gradnotes.site import style
from gradnotes.site.labels import t

ACTIVATION = "relu"
NORMS = ("none", "batchnorm")
METRIC = "act_mean_square"
# Xavier's and He's two variants share their family's hue (style.COLORS); the normal twin is dash-dotted
LINESTYLES = {"xavier_normal": "-.", "he_normal": "-."}


def compute() -> dict:
    """E[h_l²] per seed and layer for every init, without and with BatchNorm."""
    grid = protocol_results()
    runs = {
        f"{norm}/{init}": [getattr(r, METRIC) for r in grid[ACTIVATION, init, norm]]
        for norm in NORMS
        for init in GRID_INITS
    }
    return {"config": config(activation=ACTIVATION, metric=METRIC), "inits": list(GRID_INITS), "runs": runs}


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 3.9)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, norm in zip(axes, NORMS, strict=True):
        for init in data["inits"]:
            runs = data["runs"][f"{norm}/{init}"]
            xs = layers(len(runs[0]))
            color, linestyle = style.COLORS[init], LINESTYLES.get(init, "-")
            stats = per_layer(runs)
            ax.fill_between(xs, stats["min"], stats["max"], color=color, alpha=0.2, linewidth=0)
            ax.plot(xs, stats["mean"], color=color, linestyle=linestyle, linewidth=1.8, label=t(init, lang))
        ax.set_yscale("log")
        ax.set(title=f"{t(ACTIVATION, lang)} · {t(norm, lang)}", xlabel=t("layer", lang))
        layer_axis(ax, data["config"]["depth"])
        ax.set_yticks([10.0**k for k in range(-60, 61, 20)])
    axes[0].set_ylabel(t(METRIC, lang))
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center")
    return fig


def check(data: dict) -> None:
    inits = data["inits"]
    depth = len(data["runs"][f"none/{inits[0]}"][0])
    bn = {init: per_layer(data["runs"][f"batchnorm/{init}"])["mean"] for init in inits}
    plain = {init: per_layer(data["runs"][f"none/{init}"])["mean"] for init in inits}
    for layer in range(depth):
        values = [bn[init][layer] for init in inits]
        assert max(values) / min(values) < 1.05, (
            f"with BN every init gives the same E[h²] (within 5 %) at layer {layer + 1}"
        )
        # BN output has unit variance per unit; ReLU keeps half the second moment of a zero-mean Gaussian
        assert all(abs(v - 0.5) < 0.05 for v in values), f"with BN, E[h²] ≈ ½ at layer {layer + 1}"
    last = [plain[init][-1] for init in inits]
    spread = math.log10(max(last)) - math.log10(min(last))
    assert spread > 100, f"without BN the inits end {spread:.0f} decades apart at layer {depth} (more than 100)"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
