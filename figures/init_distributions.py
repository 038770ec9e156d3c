"""Xavier and He weights (uniform and normal) sampled by torch.nn.init, against the formulas' bounds and σ."""

from __future__ import annotations

import math

import torch
from _protocol import step_outline

from gradnotes.engine.nets import init_weight_
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "weight_value": {"ko": "가중치 값", "en": "weight value"},
    "density": {"ko": "밀도", "en": "density"},
    "init_samples": {"ko": "표본 (torch.nn.init)", "en": "samples (torch.nn.init)"},
    "formula_bound": {"ko": "공식의 경계 {}", "en": "formula bound {}"},
    "formula_sigma": {"ko": "공식의 σ = {}", "en": "formula σ = {}"},
    "normal_density": {"ko": "N(0, σ²) 밀도", "en": "N(0, σ²) density"},
    # the formulas, named f"{family}_bound" and f"{family}_sigma"
    "xavier_bound": {"ko": "±√(6/(n_in+n_out))", "en": "±√(6/(n_in+n_out))"},
    "he_bound": {"ko": "±√(6/n_in)", "en": "±√(6/n_in)"},
    "xavier_sigma": {"ko": "√(2/(n_in+n_out))", "en": "√(2/(n_in+n_out))"},
    "he_sigma": {"ko": "√(2/n_in)", "en": "√(2/n_in)"},
    "fan_in_out": {"ko": "n_in = {}, n_out = {}", "en": "n_in = {}, n_out = {}"},
}
t = translator(LABELS)

N_IN, N_OUT = 400, 200  # as in the page's snippet; unequal, so that Xavier's n_in + n_out shows
INITS = ("xavier_uniform", "xavier_normal", "he_uniform", "he_normal")
BINS = 60
UNIFORM_BINS = 30
NORMAL_SIGMAS = 4.5
X_LIMIT = 0.32  # shared by the four panels: He's distributions are visibly wider than Xavier's
Y_LIMIT = 9.0  # headroom for the legends above the densities
SEED = 0


def formula(init: str) -> dict:
    """The published closed forms (Glorot & Bengio 2010; He et al. 2015), with He uniform's corrected bound."""
    family, kind = init.split("_")
    variance = 2 / (N_IN + N_OUT) if family == "xavier" else 2 / N_IN
    sigma = math.sqrt(variance)
    # U(-b, b) has variance b²/3: b = √(6/(n_in+n_out)) for Xavier, √(6/n_in) for He
    bound = math.sqrt(3 * variance) if kind == "uniform" else None
    return {"family": family, "kind": kind, "sigma": sigma, "bound": bound}


def compute() -> dict:
    """One (n_out, n_in) weight per init, drawn by the engine's init (torch.nn.init) in float64; binned."""
    panels = {}
    for init in INITS:
        weight = torch.empty(N_OUT, N_IN, dtype=torch.float64)
        init_weight_(weight, init, torch.Generator().manual_seed(SEED))
        values = weight.flatten()
        closed = formula(init)
        sigma = closed["sigma"]
        # uniform: bins tile exactly [-b, b], so no bar straddles the bound; normal: ±4.5σ
        limit = closed["bound"] if closed["bound"] is not None else NORMAL_SIGMAS * sigma
        bins = UNIFORM_BINS if closed["bound"] is not None else BINS
        counts = torch.histc(values, bins=bins, min=-limit, max=limit)
        panels[init] = {
            **closed,
            "edges": torch.linspace(-limit, limit, bins + 1, dtype=torch.float64).tolist(),
            "counts": [int(c) for c in counts.tolist()],
            "outside": int((values.abs() > limit).sum()),
            "sample_std": float(values.std()),
            "sample_mean": float(values.mean()),
            "sample_max_abs": float(values.abs().max()),
            "within_one_sigma": float((values.abs() <= sigma).double().mean()),
        }
    return {"n_in": N_IN, "n_out": N_OUT, "samples": N_IN * N_OUT, "panels": panels}


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 5.2)
    axes = fig.subplots(2, 2, sharex=True, sharey=True)
    total = data["samples"]
    for ax, init in zip(axes.flat, INITS, strict=True):
        panel = data["panels"][init]
        edges = panel["edges"]
        width = edges[1] - edges[0]
        grid = torch.linspace(edges[0], edges[-1], 181, dtype=torch.float64)
        color = style.COLORS[init]
        density = [c / (total * width) for c in panel["counts"]]
        xs, ys = step_outline(edges, density)
        ax.fill(xs, ys, facecolor=color, alpha=0.35, edgecolor=color, linewidth=1.0, label=t("init_samples", lang))
        sigma, bound = panel["sigma"], panel["bound"]
        if bound is not None:
            key = f"{panel['family']}_bound"
            for sign in (-1, 1):
                ax.axvline(
                    sign * bound,
                    color="#222222",
                    linestyle=(0, (3, 2)),
                    linewidth=1.1,
                    label=t("formula_bound", lang).format(t(key, lang)) if sign > 0 else None,
                )
            ax.plot([-bound, bound], [1 / (2 * bound)] * 2, color="#222222", linewidth=1.0)
        else:
            pdf = torch.exp(-0.5 * (grid / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
            ax.plot(grid.tolist(), pdf.tolist(), color="#222222", linewidth=1.0, label=t("normal_density", lang))
            key = f"{panel['family']}_sigma"
            for sign in (-1, 1):
                ax.axvline(
                    sign * sigma,
                    color="#222222",
                    linestyle=(0, (1, 1.5)),
                    linewidth=1.1,
                    label=t("formula_sigma", lang).format(t(key, lang)) if sign > 0 else None,
                )
        ax.set_title(t(init, lang))
        ax.legend(loc="upper right", fontsize=8)
        ax.set_xlim(-X_LIMIT, X_LIMIT)
        ax.set_ylim(0, Y_LIMIT)
    for ax in axes[1]:
        ax.set_xlabel(t("weight_value", lang))
    for ax in axes[:, 0]:
        ax.set_ylabel(t("density", lang))
    fig.suptitle(t("fan_in_out", lang).format(data["n_in"], data["n_out"]), fontsize=10)
    return fig


def check(data: dict) -> None:
    n_in, n_out = data["n_in"], data["n_out"]
    for init, panel in data["panels"].items():
        sigma = panel["sigma"]
        assert abs(panel["sample_mean"]) < 0.01 * sigma, f"{init}: the samples have mean ≈ 0"
        assert abs(panel["sample_std"] / sigma - 1) < 0.01, f"{init}: the sample σ is within 1 % of the formula's"
        assert panel["outside"] <= 1e-4 * data["samples"], f"{init}: the histogram shows ≥ 99.99 % of the samples"
        if panel["bound"] is not None:
            bound = panel["bound"]
            assert 0.999 * bound < panel["sample_max_abs"] <= bound, f"{init}: samples fill U(−b, b) up to the bound"
        else:
            # a Gaussian puts 68.27 % within ±σ
            assert abs(panel["within_one_sigma"] - 0.6827) < 0.01, f"{init}: 68 % of the samples lie within ±σ"
    he_bound = data["panels"]["he_uniform"]["bound"]
    assert abs(he_bound - math.sqrt(6 / n_in)) < 1e-12, "He uniform's bound is +√(6/n_in), the outline's typo fixed"
    xavier_bound = data["panels"]["xavier_uniform"]["bound"]
    assert abs(xavier_bound - math.sqrt(6 / (n_in + n_out))) < 1e-12, "Xavier uniform's bound is √(6/(n_in+n_out))"
    assert abs(he_bound / math.sqrt(3) - math.sqrt(2 / n_in)) < 1e-12, "He uniform has He normal's variance 2/n_in"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
