"""Activation scale E[h²] per layer: ReLU + Xavier halves per layer, ReLU + He stays, tanh + Xavier fades slowly."""

from __future__ import annotations

import math

from _protocol import (
    band,
    config,
    layer_axis,
    layers,
    legend_band_entry,
    legend_theory_entry,
    per_layer,
    protocol_results,
    theory_line,
)

from gradnotes.engine import theory
from gradnotes.site import style
from gradnotes.site.labels import t

CASES = (("relu", "xavier_normal"), ("relu", "he_normal"), ("tanh", "xavier_normal"))
# The colour is the init's (style.COLORS); tanh's line carries circles, so that the two Xavier curves stay apart
# (a dashed line would merge with the dashed theory line drawn over it).
ACTIVATION_MARKS = {"relu": {}, "tanh": {"marker": "o", "markersize": 4, "markevery": 2}}
METRIC = "act_mean_square"


def compute() -> dict:
    """E[h_l²] per seed and layer, and the mean-field variance recursion, for each case."""
    grid = protocol_results()
    cases = {}
    for activation, init in CASES:
        runs = grid[activation, init, "none"]
        cases[f"{activation}/{init}"] = {
            "runs": [getattr(r, METRIC) for r in runs],
            "theory": getattr(theory.predict(runs[0].spec), METRIC),
        }
    return {"config": config(metric=METRIC), "cases": cases}


def draw(data: dict, lang: str):
    fig = style.figure(style.BODY_WIDTH, 3.9)
    ax = fig.subplots()
    for activation, init in CASES:
        case = data["cases"][f"{activation}/{init}"]
        xs = layers(len(case["runs"][0]))
        label = f"{t(activation, lang)} + {t(init, lang)}"
        band(ax, xs, per_layer(case["runs"]), style.COLORS[init], label=label, **ACTIVATION_MARKS[activation])
        theory_line(ax, xs, case["theory"])
    legend_band_entry(ax, t("engine_seed_range", lang).format(len(data["config"]["seeds"])))
    legend_theory_entry(ax, t("theory", lang))
    ax.set_yscale("log")
    ax.set(xlabel=t("layer", lang), ylabel=t(METRIC, lang))
    layer_axis(ax, data["config"]["depth"])
    ax.legend(loc="lower left")
    return fig


def _decades(values: list[float], first: int, last: int) -> float:
    """log10(E[h²] at layer `first` / at layer `last`), layers counted from 1."""
    return math.log10(values[first - 1]) - math.log10(values[last - 1])


def check(data: dict) -> None:
    mean = {key: per_layer(case["runs"])["mean"] for key, case in data["cases"].items()}
    for key, case in data["cases"].items():
        worst = max(abs(math.log10(s) - math.log10(p)) for s, p in zip(mean[key], case["theory"], strict=True))
        assert worst < 0.3, f"{key}: the simulation follows the mean-field recursion within 0.3 decade at every layer"
    xavier, he, tanh = mean["relu/xavier_normal"], mean["relu/he_normal"], mean["tanh/xavier_normal"]
    halvings = _decades(xavier, 1, 30) / math.log10(2) / 29
    assert abs(halvings - 1) < 0.1, f"ReLU + Xavier: E[h²] halves at every layer ({halvings:.2f} halvings per layer)"
    assert max(abs(math.log10(v / he[0])) for v in he) < 0.3, "ReLU + He: E[h²] stays within a factor 2 of layer 1"
    assert 0.5 < _decades(tanh, 1, 30) < 2, "tanh + Xavier: E[h²] fades by only 0.5-2 decades over 30 layers"
    assert _decades(tanh, 20, 30) < 0.1 * _decades(xavier, 20, 30), (
        "tanh + Xavier fades slowly (power law, ~1/ℓ): over layers 20-30 it loses < 1/10 of ReLU + Xavier's decades"
    )


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
