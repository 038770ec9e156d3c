"""Back-propagated gradient per layer at init in a 50-layer ReLU MLP: no norm, nn.LayerNorm and nn.RMSNorm."""

from __future__ import annotations

import math
import statistics

import torch
from torch import nn

from gradnotes.engine.nets import init_weight_, threads
from gradnotes.experiments import stacked
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "xavier_relu_title": {"ko": "ReLU + 세이비어 정규분포, 너비 {}", "en": "ReLU + Xavier normal, width {}"},
    "ratio_to_ln": {"ko": "RMS 정규화 / 층 정규화", "en": "RMSNorm / LayerNorm"},
    "ratio_title": {"ko": "두 정규화의 기울기 비", "en": "ratio of the two gradients"},
}
t = translator(LABELS)

DEPTH = 50
WIDTH = 128
BATCH = 64
SEEDS = (0, 1, 2, 3, 4)
NORMS = ("none", "layernorm", "rmsnorm")
INIT = "xavier_normal"  # halves E[h²] per ReLU layer without a norm: the vanishing case a norm must repair


def network(norm: str, seed: int) -> nn.Sequential:
    """DEPTH × (nn.Linear → norm → nn.ReLU), Xavier normal weights from one generator, no biases."""
    generator = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for _ in range(DEPTH):
        linear = nn.Linear(WIDTH, WIDTH, bias=False, dtype=torch.float64)
        with torch.no_grad():
            init_weight_(linear.weight, INIT, generator)
        layers.append(linear)
        if norm == "layernorm":
            layers.append(nn.LayerNorm(WIDTH, dtype=torch.float64))
        elif norm == "rmsnorm":
            layers.append(nn.RMSNorm(WIDTH, dtype=torch.float64))
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def layer_gradients(norm: str, seed: int) -> list[float]:
    """‖∂L/∂a_ℓ‖ at every Linear's output a_ℓ, for a random linear readout L = Σ R ⊙ h_L (SCIENCE.md)."""
    model = network(norm, seed)
    generator = torch.Generator().manual_seed(10_000 + seed)
    x = torch.randn(BATCH, WIDTH, generator=generator, dtype=torch.float64)
    readout = torch.randn(BATCH, WIDTH, generator=generator, dtype=torch.float64)
    outputs = []

    def keep(_module: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
        out.retain_grad()
        outputs.append(out)

    handles = [m.register_forward_hook(keep) for m in model if isinstance(m, nn.Linear)]
    (model(x) * readout).sum().backward()
    for handle in handles:
        handle.remove()
    return [float(a.grad.norm()) for a in outputs]


def compute() -> dict:
    """Per norm and seed, the back-propagated gradient norm at layers 1…50."""
    with threads(1):
        grads = {norm: [stacked.rounded(layer_gradients(norm, seed)) for seed in SEEDS] for norm in NORMS}
    return {"depth": DEPTH, "width": WIDTH, "batch": BATCH, "seeds": list(SEEDS), "init": INIT, "grads": grads}


def draw(data: dict, lang: str):
    # Two panels at the body width and one legend below them: legible at the page's width.
    fig = style.figure(style.BODY_WIDTH, 3.9)
    ax_grad, ax_ratio = fig.subplots(1, 2)
    layers = list(range(1, data["depth"] + 1))
    for norm in NORMS:
        runs = data["grads"][norm]
        columns = list(zip(*runs, strict=True))
        colour = style.COLORS[norm]
        ax_grad.fill_between(
            layers, [min(c) for c in columns], [max(c) for c in columns], color=colour, alpha=0.2, lw=0
        )
        style_kw = {"linestyle": "--"} if norm == "rmsnorm" else {}
        ax_grad.plot(layers, [statistics.median(c) for c in columns], color=colour, label=t(norm, lang), **style_kw)
    for rms, ln in zip(data["grads"]["rmsnorm"], data["grads"]["layernorm"], strict=True):
        ratio = [a / b for a, b in zip(rms, ln, strict=True)]
        ax_ratio.plot(layers, ratio, color=style.COLORS["rmsnorm"], lw=1, alpha=0.7)
    ax_ratio.plot(
        [],
        [],
        color=style.COLORS["rmsnorm"],
        lw=1,
        alpha=0.7,
        label=f"{t('ratio_to_ln', lang)}: {t('seed_runs', lang)}",
    )
    ax_ratio.axhline(1.0, color=style.PALETTE["grey"], lw=0.8, linestyle=":")
    ax_grad.fill_between([], [], [], color=style.PALETTE["grey"], alpha=0.3, lw=0, label=t("seed_range", lang))
    ax_grad.set(yscale="log", xlabel=t("layer", lang), ylabel=t("preact_grad_norm", lang))
    ax_grad.set_title(t("xavier_relu_title", lang).format(data["width"]))
    ax_ratio.set(xlabel=t("layer", lang), ylabel=t("ratio_to_ln", lang), yscale="log", ylim=(0.5, 2))
    ax_ratio.set_yticks([0.5, 0.75, 1, 1.5, 2], ["0.5", "0.75", "1", "1.5", "2"])
    ax_ratio.minorticks_off()
    ax_ratio.set_title(t("ratio_title", lang))
    ax_grad.minorticks_off()
    handles, labels = ax_grad.get_legend_handles_labels()
    more, more_labels = ax_ratio.get_legend_handles_labels()
    fig.legend(handles + more, labels + more_labels, loc="outside lower center", ncols=2)
    return fig


def check(data: dict) -> None:
    """The numbers the caption and the alt text state, as they round them."""
    grads = data["grads"]
    depth = data["depth"]
    # No norm: layer 1's gradient is about 3×10⁷ times (7.5 decades) smaller than layer 50's, 2.6–5.3×10⁷ per seed;
    # its median at layer 1 is about 2×10⁻⁶.
    ratios = [run[-1] / run[0] for run in grads["none"]]
    decades = math.log10(statistics.median(ratios))
    assert 7.45 <= decades < 7.55, f"no norm: median ratio layer {depth} / layer 1 is 10^7.5 (is 10^{decades:.2f})"
    assert 2.5e7 <= min(ratios) and max(ratios) < 5.5e7, (
        f"no norm: per seed 2.6e7–5.3e7 ({min(ratios):.2e}, {max(ratios):.2e})"
    )
    first = statistics.median(run[0] for run in grads["none"])
    assert 1.5e-6 <= first < 2.5e-6, f"no norm: median gradient at layer 1 ≈ 2e-6 (is {first:.1e})"
    # LN and RMSNorm: max/min over the 50 layers at most 3.2 for any seed; every value between 30 and 230.
    span = max(max(run) / min(run) for norm in ("layernorm", "rmsnorm") for run in grads[norm])
    assert 3.15 <= span < 3.25, f"LN, RMSNorm: the largest max/min over {depth} layers is 3.2 (is {span:.2f})"
    values = [v for norm in ("layernorm", "rmsnorm") for run in grads[norm] for v in run]
    assert 30 < min(values) and max(values) < 230, (
        f"LN, RMSNorm: 30 < ‖∂L/∂a‖ < 230 ({min(values):.0f}…{max(values):.0f})"
    )
    # RMSNorm / LayerNorm: between 0.65 and 1.75 at every layer and seed.
    ratio = [
        a / b
        for rms, ln in zip(grads["rmsnorm"], grads["layernorm"], strict=True)
        for a, b in zip(rms, ln, strict=True)
    ]
    assert 0.65 <= min(ratio) and max(ratio) < 1.75, f"RMSNorm / LN in [0.65, 1.75] ({min(ratio):.3f}…{max(ratio):.3f})"
    assert min(ratio) < 0.7 and max(ratio) > 1.7, f"… and the range is that wide ({min(ratio):.3f}…{max(ratio):.3f})"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
