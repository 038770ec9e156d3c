"""Singular values of a deep net's input–output Jacobian: Gaussian vs orthogonal weights, critical tanh vs ReLU."""

from __future__ import annotations

import math
import statistics

import numpy as np
import torch
from torch import nn
from torch.func import jacrev

from gradnotes.engine import theory
from gradnotes.engine.nets import activation_module, init_weight_, threads
from gradnotes.experiments import stacked
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "depth_axis": {"ko": "깊이 L (층 수)", "en": "depth L (layers)"},
    "rank_fraction": {"ko": "특잇값 순위 (큰 것부터, 비율)", "en": "singular-value rank (largest first, fraction)"},
    "singular_value": {"ko": "특잇값 s", "en": "singular value s"},
    "mean_s2": {"ko": "특잇값 제곱의 평균 E[s²]", "en": "mean squared singular value E[s²]"},
    "spread_s2": {"ko": "퍼짐 Var[s²] / E[s²]²", "en": "spread Var[s²] / E[s²]²"},
    "spectrum_at_n": {"ko": "L = {}층의 특잇값", "en": "singular values at L = {}"},
    "what_chi_fixes": {"ko": "χ = 1이 맞추는 것: 평균", "en": "what χ = 1 fixes: the mean"},
    "what_isometry_adds": {"ko": "등거리성이 더하는 것: 퍼짐", "en": "what isometry adds: the spread"},
    "tanh_critical": {"ko": "tanh (임계점)", "en": "tanh (critical)"},
    # σ_w² = 2, He's scale; mathtext cannot follow (its fonts have no Hangul) where the label joins a Korean word
    "relu_he": {"ko": "ReLU (He의 크기)", "en": "ReLU (He scale)"},
    "gaussian_weights": {"ko": "가우스", "en": "Gaussian"},
    "isometry_line": {"ko": "s = 1 (등거리)", "en": "s = 1 (isometry)"},
}
t = translator(LABELS)

WIDTH = 128
DEPTHS = (1, 2, 4, 8, 16, 32)  # depth/width ≤ 1/4: deeper, finite-width fluctuations of E[s²] take over
SEEDS = (0, 1, 2, 3, 4)
ACTIVATIONS = ("tanh", "relu")
INITS = ("lecun_normal", "orthogonal")  # N(0, σ_w²/n_in) through torch's LeCun normal, and nn.init.orthogonal_
Q_STAR = 1 / 64  # tanh's fixed point of the pre-activation variance (Pennington et al. 2017 use small q*)


def tanh_critical_point(q_star: float = Q_STAR) -> tuple[float, float]:
    """(σ_w², σ_b²) with χ = σ_w² E[tanh′(√q* z)²] = 1 and q* a fixed point: q* = σ_w² E[tanh(√q* z)²] + σ_b²."""
    phi, dphi = theory.phi_and_derivative("tanh")
    sw2 = 1.0 / theory.gaussian_expectation(lambda u: dphi(u) ** 2, q_star)
    sb2 = q_star - sw2 * theory.gaussian_expectation(lambda u: phi(u) ** 2, q_star)
    return sw2, sb2


def scales(activation: str) -> tuple[float, float, float]:
    """(σ_w, σ_b, input variance) at criticality: tanh on its critical line at q*, ReLU at He's σ_w² = 2, σ_b = 0."""
    if activation == "tanh":
        sw2, sb2 = tanh_critical_point()
        return math.sqrt(sw2), math.sqrt(sb2), Q_STAR
    return math.sqrt(2.0), 0.0, 1.0


def jacobian_spectra(activation: str, init: str, seed: int) -> dict[str, list]:
    """The singular values of ∂h_L/∂h_0 at every depth in DEPTHS, one nn.Linear + activation block at a time.

    Each block's Jacobian comes from torch.func.jacrev at the block's input; the input–output Jacobian is their
    product (the chain rule), checked against jacrev of the whole stack at the last depth.
    """
    sigma_w, sigma_b, input_variance = scales(activation)
    generator = torch.Generator().manual_seed(seed)
    blocks = []
    for _ in range(max(DEPTHS)):
        linear = nn.Linear(WIDTH, WIDTH, dtype=torch.float64)
        with torch.no_grad():
            init_weight_(linear.weight, init, generator, gain=sigma_w)
            nn.init.normal_(linear.bias, 0.0, sigma_b, generator=generator) if sigma_b else linear.bias.zero_()
        blocks.append(nn.Sequential(linear, activation_module(activation)))
    h0 = torch.randn(WIDTH, generator=generator, dtype=torch.float64) * math.sqrt(input_variance)
    h, jacobian = h0, torch.eye(WIDTH, dtype=torch.float64)
    singular: dict[str, list] = {}
    with torch.no_grad():
        for depth, block in enumerate(blocks, 1):
            jacobian = jacrev(block)(h) @ jacobian
            h = block(h)
            if depth in DEPTHS:
                singular[str(depth)] = stacked.rounded(torch.linalg.svdvals(jacobian).tolist())
        whole = jacrev(nn.Sequential(*blocks))(h0)
    chain_error = float((whole - jacobian).abs().max() / jacobian.abs().max())
    return {"singular_values": singular, "chain_rule_error": chain_error}


def compute() -> dict:
    """Every (activation, init, seed): one random input, the Jacobian's singular values at depths 1…64."""
    runs: dict[str, dict[str, list]] = {}
    with threads(1):
        for activation in ACTIVATIONS:
            for init in INITS:
                runs[f"{activation}/{init}"] = [jacobian_spectra(activation, init, seed) for seed in SEEDS]
    sw2, sb2 = tanh_critical_point()
    return {
        "width": WIDTH,
        "depths": list(DEPTHS),
        "seeds": list(SEEDS),
        "activations": list(ACTIVATIONS),
        "inits": list(INITS),
        "tanh_sigma_w2": sw2,
        "tanh_sigma_b2": sb2,
        "q_star": Q_STAR,
        "runs": runs,  # [activation/init][seed] -> singular_values[depth], chain_rule_error
    }


def moments(data: dict, activation: str, init: str, stat: str) -> list[list[float]]:
    """Per depth, per seed: the mean of the squared singular values ("mean"), or their spread ("spread"): the
    variance divided by the squared mean, which is 0 exactly when every singular value is the same."""
    out = []
    for depth in data["depths"]:
        row = []
        for run in data["runs"][f"{activation}/{init}"]:
            s2 = np.square(run["singular_values"][str(depth)])
            row.append(float(s2.mean() if stat == "mean" else s2.var() / s2.mean() ** 2))
        out.append(row)
    return out


LINESTYLES = {"lecun_normal": "--", "orthogonal": "-"}
ACTIVATION_LABELS = {"tanh": "tanh_critical", "relu": "relu_he"}
INIT_LABELS = {"lecun_normal": "gaussian_weights", "orthogonal": "orthogonal"}


def draw(data: dict, lang: str):
    # Two by two at the body width, the legend in the fourth cell: legible at the page's width.
    fig = style.figure(style.BODY_WIDTH, 6.2)
    axes = fig.subplot_mosaic([["spectrum", "mean"], ["legend", "spread"]])
    ax_spec, ax_mean, ax_var, ax_legend = (axes[k] for k in ("spectrum", "mean", "spread", "legend"))
    deepest = str(max(data["depths"]))
    depths = data["depths"]
    for activation in ACTIVATIONS:
        for init in INITS:
            colour = style.COLORS[activation]
            label = f"{t(ACTIVATION_LABELS[activation], lang)}, {t(INIT_LABELS[init], lang)}"
            kw = {"color": colour, "linestyle": LINESTYLES[init], "lw": 1.6}
            for k, run in enumerate(data["runs"][f"{activation}/{init}"]):
                s = np.clip(run["singular_values"][deepest], 1e-5, None)
                rank = (np.arange(len(s)) + 0.5) / len(s)
                ax_spec.plot(rank, s, alpha=0.85, label=label if k == 0 else None, **kw)
            for ax, stat in ((ax_mean, "mean"), (ax_var, "spread")):
                rows = moments(data, activation, init, stat)
                ax.fill_between(depths, [min(r) for r in rows], [max(r) for r in rows], color=colour, alpha=0.15, lw=0)
                ax.plot(depths, [statistics.geometric_mean(r) for r in rows], marker="o", ms=3, **kw)
    ax_spec.axhline(1.0, color=style.PALETTE["black"], lw=0.8, linestyle=":", label=t("isometry_line", lang))
    ax_spec.set(yscale="log", ylim=(1e-5, 1e2), xlabel=t("rank_fraction", lang), ylabel=t("singular_value", lang))
    ax_spec.set_title(t("spectrum_at_n", lang).format(deepest))
    ax_mean.axhline(1.0, color=style.PALETTE["black"], lw=0.8, linestyle=":")
    ax_mean.set(xscale="log", yscale="log", ylim=(0.2, 5), xlabel=t("depth_axis", lang), ylabel=t("mean_s2", lang))
    ax_mean.set_title(t("what_chi_fixes", lang))
    ax_mean.set_yticks([0.25, 0.5, 1, 2, 4], ["0.25", "0.5", "1", "2", "4"])
    ax_var.set(xscale="log", yscale="log", xlabel=t("depth_axis", lang), ylabel=t("spread_s2", lang))
    ax_var.set_title(t("what_isometry_adds", lang))
    for ax in (ax_mean, ax_var):
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.minorticks_off()
    ax_spec.fill_between([], [], [], color=style.PALETTE["grey"], alpha=0.3, lw=0, label=t("seed_range", lang))
    ax_legend.axis("off")
    ax_legend.legend(*ax_spec.get_legend_handles_labels(), loc="center", frameon=False)
    return fig


def check(data: dict) -> None:
    """The numbers the caption and the alt text state, as they round them."""
    depths, deepest = data["depths"], str(max(data["depths"]))
    for key, runs in data["runs"].items():
        worst = max(run["chain_rule_error"] for run in runs)
        assert worst < 1e-9, f"{key}: the product of the block Jacobians equals jacrev of the stack (error {worst:.1e})"
    # What χ = 1 fixes: the mean squared singular value within a factor 2 of 1 at every depth, for all four networks.
    for activation in ACTIVATIONS:
        for init in INITS:
            for depth, row in zip(depths, moments(data, activation, init, "mean"), strict=True):
                middle = statistics.geometric_mean(row)
                assert 0.5 < middle < 2, (
                    f"{activation}/{init}, L = {depth}: E[s²] within a factor 2 of 1 ({middle:.2f})"
                )
    # What isometry adds: only orthogonal tanh keeps the spread small, 0.002 at L = 1 to 0.06 at L = 32 (geometric
    # means) and below 0.1 for every seed; Gaussian tanh and ReLU (either init) exceed L/2 at every depth and seed.
    isometric = moments(data, "tanh", "orthogonal", "spread")
    for depth, row in zip(depths, isometric, strict=True):
        assert max(row) < 0.1, f"orthogonal tanh, L = {depth}: spread Var[s²]/E[s²]² < 0.1 (is {max(row):.3f})"
    ends = [statistics.geometric_mean(isometric[k]) for k in (0, -1)]
    assert [round(ends[0], 3), round(ends[1], 2)] == [0.002, 0.06], f"orthogonal tanh: spread {ends} at L = 1, 32"
    deepest_spreads = []
    for activation, init in (("tanh", "lecun_normal"), ("relu", "lecun_normal"), ("relu", "orthogonal")):
        rows = moments(data, activation, init, "spread")
        for depth, row, calm in zip(depths, rows, isometric, strict=True):
            assert min(row) > depth / 2, f"{activation}/{init}, L = {depth}: spread > L/2 (is {min(row):.2f})"
            ratio = min(row) / max(calm)
            assert ratio > 10, f"{activation}/{init}, L = {depth}: spread > 10× orthogonal tanh's (is {ratio:.0f}×)"
        assert 1 <= statistics.geometric_mean(rows[0]) < 2.5, f"{activation}/{init}: spread 1–2 at L = 1"
        deepest_spreads.append(statistics.geometric_mean(rows[-1]))
    assert 25 <= min(deepest_spreads) and max(deepest_spreads) < 45, f"spreads at L = {deepest}: {deepest_spreads}"
    # The exercise: Gaussian tanh's spread at 16 layers is about 16.
    at16 = statistics.geometric_mean(moments(data, "tanh", "lecun_normal", "spread")[depths.index(16)])
    assert round(at16) == 16, f"Gaussian tanh: spread ≈ 16 at L = 16 (is {at16:.1f})"
    # The left panel at L = 32: orthogonal tanh's singular values all between 0.25 and 1.25; the other three reach
    # 6–11 at the top, and half to three quarters of their singular values are below 10⁻⁵.
    calm_values = [v for run in data["runs"]["tanh/orthogonal"] for v in run["singular_values"][deepest]]
    assert 0.25 < min(calm_values) and max(calm_values) < 1.25, (
        f"orthogonal tanh: {min(calm_values):.2f}…{max(calm_values):.2f}"
    )
    for key in ("tanh/lecun_normal", "relu/lecun_normal", "relu/orthogonal"):
        values = np.array([run["singular_values"][deepest] for run in data["runs"][key]])
        assert 6 < values.max() < 11, f"{key}: the largest singular value at L = {deepest} is 6–11 ({values.max():.1f})"
        tiny = float((values < 1e-5).mean())
        assert 0.45 < tiny < 0.75, f"{key}: half to three quarters of the singular values below 1e-5 ({tiny:.2f})"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
