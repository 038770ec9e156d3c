"""Per-layer gradient norms of two 30-layer networks: sigmoid + Xavier vanishes, tanh + N(0, 1) explodes (log scale)."""

from __future__ import annotations

import math

from _protocol import (
    band,
    config,
    finite_positive,
    layer_axis,
    layers,
    legend_band_entry,
    legend_theory_entry,
    log10_ratio,
    log10_slope,
    per_layer,
    protocol_results,
    seed_mean,
    theory_line,
)
from matplotlib.transforms import blended_transform_factory

from gradnotes.engine import theory
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "vanishing": {"ko": "기울기 소실", "en": "vanishing"},
    "exploding": {"ko": "기울기 폭주", "en": "exploding"},
    "overflow": {"ko": "오버플로(inf/NaN)", "en": "overflow (inf/NaN)"},
}
t = translator(LABELS)

# (case, activation, init): sigma_w^2 = 1 with sigmoid' <= 1/4 (chi ~ 0.07), and sigma_w^2 = 256 with a saturated
# tanh (chi ~ 8): both errors of scale, both with a constant chi, hence straight lines on a log axis.
CASES = (("vanishing", "sigmoid", "xavier_uniform"), ("exploding", "tanh", "standard_normal"))
METRICS = ("preact_grad_norm", "weight_grad_norm")
# a colour per phenomenon, not per activation or init (each case pairs one of each): cold vanishes, hot explodes
COLORS = {"vanishing": style.PALETTE["blue"], "exploding": style.PALETTE["vermillion"]}
STRAIGHT_DECADES = 0.5  # "close to a straight line": no layer is farther than this from the fitted line


def compute() -> dict:
    """Per-seed, per-layer gradient norms and the mean-field prediction for both cases (float64, no overflow)."""
    grid = protocol_results()
    cases = {}
    for case, activation, init in CASES:
        runs = grid[activation, init, "none"]
        prediction = theory.predict(runs[0].spec)
        cases[case] = {
            "activation": activation,
            "init": init,
            **{metric: [getattr(r, metric) for r in runs] for metric in METRICS},
            "nonfinite": [r.nonfinite for r in runs],
            "theory": {metric: getattr(prediction, metric) for metric in METRICS},
        }
    return {"config": config(), "cases": cases}


def _label(case: dict, name: str, lang: str) -> str:
    return f"{t(name, lang)}: {t(case['activation'], lang)} + {t(case['init'], lang)}"


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 4.0)
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, METRICS, strict=True):
        for name, _, _ in CASES:
            case = data["cases"][name]
            color = COLORS[name]
            xs = layers(len(case[metric][0]))
            band(ax, xs, per_layer(case[metric]), color, label=_label(case, name, lang))
            theory_line(ax, xs, case["theory"][metric])
            # a layer where any seed overflowed is marked at the top edge: the band cannot show it
            bad = [x for x, flags in zip(xs, zip(*case["nonfinite"], strict=True), strict=True) if any(flags)]
            if bad:
                top = blended_transform_factory(ax.transData, ax.transAxes)
                ax.plot(bad, [0.97] * len(bad), "x", color=color, transform=top, label=t("overflow", lang))
        ax.set_yscale("log")
        ax.set(xlabel=t("layer", lang), ylabel=t(metric, lang))
        layer_axis(ax, data["config"]["depth"])
    legend_band_entry(axes[0], t("engine_seed_range", lang).format(len(data["config"]["seeds"])))
    legend_theory_entry(axes[0], t("theory", lang))
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=2)
    return fig


def check(data: dict) -> None:
    for name, activation, init in CASES:
        case = data["cases"][name]
        for metric in METRICS:
            for run in case[metric]:
                assert all(finite_positive(v) for v in run), f"{activation} + {init}: every layer's {metric} is finite"
            ratios = [log10_ratio(run) for run in case[metric]]
            mean = seed_mean(ratios)
            if name == "vanishing":
                assert mean < -15, (
                    f"{activation} + {init}: {metric} vanishes by > 15 decades toward layer 1 ({mean:.1f})"
                )
            else:
                assert mean > 10, (
                    f"{activation} + {init}: {metric} explodes by > 10 decades toward layer 1 ({mean:.1f})"
                )
            predicted = log10_ratio(case["theory"][metric])
            assert abs(mean - predicted) < 0.3, f"{activation} + {init}: {metric} ratio within 0.3 decade of theory"
            geometric = per_layer(case[metric])["mean"]
            slope, worst = log10_slope(geometric)
            assert worst < STRAIGHT_DECADES, (
                f"{activation} + {init}: {metric} is close to a straight line on a log scale "
                f"(largest deviation {worst:.2f} decade, slope {slope:.2f} decade per layer)"
            )
            assert math.copysign(1, slope) == (1 if name == "vanishing" else -1), (
                "the line rises / falls toward layer L"
            )


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
