"""nn.Linear's default U(±1/√n_in) beside Xavier and He: back-propagated gradient per layer, ReLU and tanh."""

from __future__ import annotations

from _protocol import (
    band,
    config,
    layer_axis,
    layers,
    legend_band_entry,
    legend_theory_entry,
    log10_ratio,
    per_layer,
    protocol_results,
    theory_line,
)

from gradnotes.engine import theory
from gradnotes.site import style
from gradnotes.site.labels import t

ACTIVATIONS = ("relu", "tanh")
INITS = ("torch_default", "xavier_uniform", "he_uniform")  # all three uniform: only the bound differs
METRIC = "preact_grad_norm"


def compute() -> dict:
    """‖∂L/∂a_ℓ‖ per seed and layer with the mean-field prediction, per activation and init."""
    grid = protocol_results()
    cases = {}
    for activation in ACTIVATIONS:
        for init in INITS:
            runs = grid[activation, init, "none"]
            prediction = theory.predict(runs[0].spec)
            cases[f"{activation}/{init}"] = {
                "runs": [getattr(r, METRIC) for r in runs],
                "theory": getattr(prediction, METRIC),
                "sigma_w2": prediction.sigma_w2,
            }
    return {"config": config(metric=METRIC), "cases": cases}


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 3.9)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, activation in zip(axes, ACTIVATIONS, strict=True):
        for init in INITS:
            case = data["cases"][f"{activation}/{init}"]
            xs = layers(len(case["runs"][0]))
            band(ax, xs, per_layer(case["runs"]), style.COLORS[init], label=t(init, lang))
            theory_line(ax, xs, case["theory"])
        ax.set_yscale("log")
        ax.set(title=t(activation, lang), xlabel=t("layer", lang))
        layer_axis(ax, data["config"]["depth"])
    axes[0].set_ylabel(t(METRIC, lang))
    legend_band_entry(axes[0], t("engine_seed_range", lang).format(len(data["config"]["seeds"])))
    legend_theory_entry(axes[0], t("theory", lang))
    axes[0].legend(loc="lower right")
    return fig


def check(data: dict) -> None:
    cases = data["cases"]
    ratio = {key: log10_ratio(per_layer(case["runs"])["mean"]) for key, case in cases.items()}
    for key, case in cases.items():
        assert abs(ratio[key] - log10_ratio(case["theory"])) < 0.3, f"{key}: within 0.3 decade of mean field"
    # sigma_w^2 = n Var[W]: 1/3 for the default (U(+-1/sqrt n) has variance 1/(3n)), 1 for Xavier, 2 for He
    assert abs(cases["relu/torch_default"]["sigma_w2"] * 6 - cases["relu/he_uniform"]["sigma_w2"]) < 1e-9, (
        "the default's variance is one sixth of He's"
    )
    for activation in ACTIVATIONS:
        default, xavier = ratio[f"{activation}/torch_default"], ratio[f"{activation}/xavier_uniform"]
        assert default < xavier - 3, f"{activation}: the default vanishes at least 3 decades more than Xavier"
        assert default < -6, f"{activation}: the default loses over 6 decades in 30 layers ({default:.1f})"
    assert abs(ratio["relu/he_uniform"]) < 0.5, "ReLU + He keeps the gradient"
    assert abs(ratio["tanh/xavier_uniform"]) < 1, "tanh + Xavier keeps the gradient within a decade"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
