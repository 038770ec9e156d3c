"""Back-propagated gradient per layer at init: BN grows it toward the input (ReLU + He), rescues sigmoid; LN neither."""

from __future__ import annotations

import math

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
        # Second panel: BN centres each unit over the batch (removing the offset ½ Σ_j W_ij of sigmoid's 0.5 mean) and
        # divides by σ_B (a gain that offsets sigmoid′ ≤ ¼); LayerNorm's per-sample σ keeps that offset and falls short.
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
    sig_mean = {norm: per_layer(data["sigmoid"][norm])["mean"] for norm in NORMS}
    sig = {norm: log10_ratio(sig_mean[norm]) for norm in NORMS}
    assert abs(sig["batchnorm"]) < 1, (
        f"sigmoid + BN: centring plus BN's gain keep layers 1 and 30 within a decade ({sig['batchnorm']:.2f})"
    )
    # Layer 1 sees the Gaussian input, not sigmoid outputs; from layer 30 to layer 2 the gradient rises mildly.
    for run in data["sigmoid"]["batchnorm"]:
        rise = math.log10(run[1] / run[-1])
        assert 0.3 < rise < 0.6, f"sigmoid + BN: layer 2 is 2-4x layer 30 in every seed ({10**rise:.1f}x)"
    assert sig["none"] < -15, f"sigmoid without a norm vanishes by over 15 decades ({sig['none']:.2f})"
    assert sig["layernorm"] < -10, f"LayerNorm does not rescue sigmoid: over 10 decades lost ({sig['layernorm']:.2f})"
    # LN divides by the RMS of s(z) over the units, offset included; BN by its standard deviation over the batch.
    # So per layer LN's gain falls short by sqrt(Var[s] / E[s²]) for z ~ N(0, 1): 0.38, i.e. 0.415 decade.
    shortfall = -math.log10(math.sqrt(sigmoid_variance() / sigmoid_second_moment()))
    slope, _ = log10_slope(sig_mean["layernorm"])
    assert abs(slope - shortfall) < 0.03, (
        f"sigmoid + LN loses {slope:.3f} decade per layer, as sqrt(Var[s]/E[s²]) predicts ({shortfall:.3f})"
    )


def _gauss_average(f) -> float:
    """E[f(z)] for z ~ N(0, 1): the trapezoid rule on [-12, 12] (the tails beyond are below 1e-30)."""
    n, low, high = 24001, -12.0, 12.0
    h = (high - low) / (n - 1)
    total = 0.0
    for k in range(n):
        z = low + k * h
        total += (0.5 if k in (0, n - 1) else 1.0) * f(z) * math.exp(-z * z / 2)
    return total * h / math.sqrt(2 * math.pi)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def sigmoid_second_moment() -> float:
    """E[s(z)²]: what LayerNorm's per-sample statistics see, the ½ mean included."""
    return _gauss_average(lambda z: _sigmoid(z) ** 2)


def sigmoid_variance() -> float:
    """Var[s(z)]: what BatchNorm's per-unit statistics over the batch see, the mean removed."""
    return sigmoid_second_moment() - _gauss_average(_sigmoid) ** 2


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
