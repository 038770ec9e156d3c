"""Fraction of units off on the whole batch, per layer: ReLU vs Leaky ReLU (He init), without and with BatchNorm."""

from __future__ import annotations

import statistics

from _protocol import config, layer_axis, layers, legend_band_entry, protocol_results, seed_mean

from gradnotes.site import style
from gradnotes.site.labels import translator

# Not the glossary's "dead-unit fraction": a unit off on one batch at initialisation is not dead (it may be on for
# other inputs, and a unit below the first layer can come back when the layers under it change), and a Leaky ReLU unit
# is never dead. The axis says what is counted.
LABELS = {
    "units_off_on_batch": {"ko": "배치 전체에서 꺼진 유닛 비율", "en": "fraction of units off on the whole batch"},
}
t = translator(LABELS)

ACTIVATIONS = ("relu", "leaky_relu")
NORMS = ("none", "batchnorm")
INIT = "he_normal"
METRIC = "dead_unit_fraction"  # the engine's name for units with z <= 0 for every sample of the batch
DEEP_LAYERS = slice(20, 30)  # layers 21-30


def compute() -> dict:
    """Fraction of units off on the whole batch, per seed and layer, for each activation and norm."""
    grid = protocol_results()
    runs = {
        f"{activation}/{norm}": [getattr(r, METRIC) for r in grid[activation, INIT, norm]]
        for activation in ACTIVATIONS
        for norm in NORMS
    }
    return {"config": config(init=INIT, metric=METRIC), "runs": runs}


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 3.5)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, norm in zip(axes, NORMS, strict=True):
        for activation in ACTIVATIONS:
            runs = data["runs"][f"{activation}/{norm}"]
            xs = layers(len(runs[0]))
            color = style.COLORS[activation]
            low = [min(c) for c in zip(*runs, strict=True)]
            high = [max(c) for c in zip(*runs, strict=True)]
            ax.fill_between(xs, low, high, color=color, alpha=0.2, linewidth=0)
            # Leaky ReLU is dashed: the two curves nearly coincide (the same units are negative)
            style_kw = {"linestyle": (0, (5, 2))} if activation == "leaky_relu" else {}
            ax.plot(xs, seed_mean(runs), color=color, label=t(activation, lang), **style_kw)
        ax.set(title=t(norm, lang), xlabel=t("layer", lang), ylim=(-0.02, 0.6))
        layer_axis(ax, data["config"]["depth"])
    axes[0].set_ylabel(t("units_off_on_batch", lang))
    legend_band_entry(axes[0], t("engine_seed_range", lang).format(len(data["config"]["seeds"])))
    axes[0].legend(loc="upper left")
    return fig


def check(data: dict) -> None:
    for activation in ACTIVATIONS:
        plain = seed_mean(data["runs"][f"{activation}/none"])
        assert plain[0] == 0.0, f"{activation}: no unit off on the whole batch in layer 1 (independent inputs)"
        deep = statistics.fmean(plain[DEEP_LAYERS])
        assert deep > 0.3, f"{activation}, no BN: over 30 % of the units of layers 21-30 are off on the whole batch"
        assert statistics.fmean(plain[:5]) < deep / 2, (
            f"{activation}, no BN: units off on the whole batch accumulate with depth"
        )
        for run in data["runs"][f"{activation}/batchnorm"]:
            assert max(run) == 0.0, f"{activation} + BN: no unit is off on the whole batch, in any layer or seed"
    relu, leaky = seed_mean(data["runs"]["relu/none"]), seed_mean(data["runs"]["leaky_relu/none"])
    assert max(abs(a - b) for a, b in zip(relu, leaky, strict=True)) < 0.1, (
        "ReLU and Leaky ReLU have nearly the same units off (Leaky's still pass a gradient of slope 0.01)"
    )


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
