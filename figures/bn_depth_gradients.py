"""Back-propagated gradient per layer at init: BN grows it toward the input (ReLU + He), rescues sigmoid; LN neither."""

from __future__ import annotations

from _protocol import (
    band,
    config,
    layer_axis,
    layers,
    legend_band_entry,
    legend_theory_entry,
    log10_ratio,
    log10_slope,
    per_layer,
    protocol_results,
    theory_line,
)

from gradnotes.engine import theory
from gradnotes.site import style
from gradnotes.site.labels import t

ACTIVATION, INIT = "relu", "he_normal"
SIGMOID_INIT = "xavier_normal"
NORMS = ("batchnorm", "layernorm", "none")
METRIC = "preact_grad_norm"


def compute() -> dict:
    """‖∂L/∂a_ℓ‖ per seed and layer for each norm; mean-field theory exists for norm = none only."""
    grid = protocol_results()
    runs = {norm: [getattr(r, METRIC) for r in grid[ACTIVATION, INIT, norm]] for norm in NORMS}
    prediction = theory.predict(grid[ACTIVATION, INIT, "none"][0].spec)
    return {
        "config": config(activation=ACTIVATION, init=INIT, metric=METRIC),
        "runs": runs,
        "theory_none": getattr(prediction, METRIC),
        # Second panel: BN's 1/σ_B in the backward pass cancels sigmoid′ ≤ ¼; LayerNorm does not.
        "sigmoid": {norm: [getattr(r, METRIC) for r in grid["sigmoid", SIGMOID_INIT, norm]] for norm in NORMS},
    }


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 3.9)
    ax, ax_sig = fig.subplots(1, 2)
    for norm in NORMS:
        runs = data["runs"][norm]
        xs = layers(len(runs[0]))
        band(ax, xs, per_layer(runs), style.COLORS[norm], label=t(norm, lang))
        band(ax_sig, xs, per_layer(data["sigmoid"][norm]), style.COLORS[norm], label=t(norm, lang))
    theory_line(ax, layers(len(data["theory_none"])), data["theory_none"])
    legend_band_entry(ax, t("engine_seed_range", lang).format(len(data["config"]["seeds"])))
    legend_theory_entry(ax, f"{t('theory', lang)}, {t('none', lang)}")
    for axis, title in (
        (ax, f"{t(ACTIVATION, lang)} + {t(INIT, lang)}"),
        (ax_sig, f"{t('sigmoid', lang)} + {t(SIGMOID_INIT, lang)}"),
    ):
        axis.set_yscale("log")
        axis.set(xlabel=t("layer", lang), ylabel=t(METRIC, lang))
        axis.set_title(title)
        layer_axis(axis, data["config"]["depth"])
    ax.legend(loc="upper right")
    ax_sig.legend(loc="lower right")
    return fig


def check(data: dict) -> None:
    mean = {norm: per_layer(data["runs"][norm])["mean"] for norm in NORMS}
    grow = log10_ratio(mean["batchnorm"])
    assert grow > 2, f"with BN the gradient grows by over 2 decades from layer 30 to layer 1 ({grow:.2f})"
    slope, worst = log10_slope(mean["batchnorm"])
    assert slope < 0 and worst < 0.2, "with BN the growth is exponential: a straight line on the log axis"
    for run in data["runs"]["batchnorm"]:
        assert log10_ratio(run) > 2, "every seed grows by over 2 decades under BN"
    for norm in ("layernorm", "none"):
        ratio = log10_ratio(mean[norm])
        assert abs(ratio) < 0.3, f"with {norm} the gradient stays within 0.3 decade over 30 layers ({ratio:.2f})"
    assert abs(log10_ratio(mean["none"]) - log10_ratio(data["theory_none"])) < 0.3, "no norm: sim matches mean field"
    sig = {norm: log10_ratio(per_layer(data["sigmoid"][norm])["mean"]) for norm in NORMS}
    assert abs(sig["batchnorm"]) < 1, (
        f"sigmoid + BN: 1/σ_B cancels sigmoid′ ≤ ¼ (within a decade, {sig['batchnorm']:.2f})"
    )
    assert sig["none"] < -15, f"sigmoid without a norm vanishes by over 15 decades ({sig['none']:.2f})"
    assert sig["layernorm"] < -10, f"LayerNorm does not rescue sigmoid: over 10 decades lost ({sig['layernorm']:.2f})"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
