"""The outline's four activations and their derivatives (autograd), with saturation regions and sigmoid′ ≤ ¼."""

from __future__ import annotations

import torch
from torch import nn

from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "functions": {"ko": "활성화 함수", "en": "activation functions"},
    "derivatives": {"ko": "도함수", "en": "derivatives"},
    "saturation_region": {"ko": "포화 구간", "en": "saturation region"},
    "sigmoid_max_slope": {"ko": "시그모이드 최대 경사 ¼", "en": "sigmoid's maximum slope ¼"},
}
t = translator(LABELS)

ACTIVATIONS = {
    "sigmoid": nn.Sigmoid(),
    "tanh": nn.Tanh(),
    "relu": nn.ReLU(),
    "leaky_relu": nn.LeakyReLU(negative_slope=0.01),
}
X_LIMIT = 6.0
POINTS = 481  # step 0.025: the kink of ReLU at 0 falls on a grid point
SATURATION = 0.05  # saturated where φ′(x) < 5 % of φ′(0), the engine's definition


def compute() -> dict:
    """φ and φ′ on a grid, the derivative taken by autograd through the real torch modules."""
    x = torch.linspace(-X_LIMIT, X_LIMIT, POINTS, dtype=torch.float64, requires_grad=True)
    data: dict = {"x": x.detach().tolist(), "phi": {}, "dphi": {}, "saturation": SATURATION}
    for name, module in ACTIVATIONS.items():
        y = module(x)
        (grad,) = torch.autograd.grad(y.sum(), x)
        data["phi"][name] = y.detach().tolist()
        data["dphi"][name] = grad.tolist()
    return data


def saturated_intervals(data: dict, name: str) -> list[tuple[float, float]]:
    """Maximal x-intervals where φ′ < SATURATION·φ′(0), read off the data."""
    x, dphi = data["x"], data["dphi"][name]
    at_zero = dphi[len(x) // 2]
    intervals, start = [], None
    for xi, d in zip(x, dphi, strict=True):
        if d < data["saturation"] * at_zero:
            start = xi if start is None else start
            end = xi
        elif start is not None:
            intervals.append((start, end))
            start = None
    if start is not None:
        intervals.append((start, end))
    return intervals


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 3.6)
    ax_f, ax_d = fig.subplots(1, 2)
    for name in ACTIVATIONS:
        kw = {"color": style.COLORS[name], "label": t(name, lang)}
        if name == "leaky_relu":
            kw["linestyle"] = (0, (4, 2))
        ax_f.plot(data["x"], data["phi"][name], **kw)
        ax_d.plot(data["x"], data["dphi"][name], **kw)
    for name in ("sigmoid", "tanh"):
        for lo, hi in saturated_intervals(data, name):
            ax_d.axvspan(lo, hi, ymin=0, ymax=0.06, color=style.COLORS[name], alpha=0.35, linewidth=0)
    # One legend entry for the shading, in neutral grey: the colour says whose region it is.
    ax_d.axvspan(0, 0, color=style.PALETTE["grey"], alpha=0.35, label=t("saturation_region", lang))
    ax_d.axhline(0.25, color=style.COLORS["sigmoid"], linestyle=":", linewidth=1.2)
    ax_d.annotate(
        t("sigmoid_max_slope", lang),
        xy=(0, 0.25),
        xytext=(-5.8, 0.45),
        color=style.COLORS["sigmoid"],
        arrowprops={"arrowstyle": "->", "color": style.COLORS["sigmoid"], "linewidth": 1},
    )
    ax_f.set(xlabel=t("input", lang), ylabel=t("output", lang), title=t("functions", lang), ylim=(-1.5, 3.0))
    ax_d.set(xlabel=t("input", lang), ylabel=t("derivative", lang), title=t("derivatives", lang), ylim=(-0.05, 1.15))
    ax_f.legend(loc="upper left")
    ax_d.legend(loc="center right")
    return fig


def check(data: dict) -> None:
    dphi, x = data["dphi"], data["x"]
    assert max(dphi["sigmoid"]) <= 0.25 + 1e-12, "sigmoid′ exceeds ¼"
    assert abs(max(dphi["sigmoid"]) - 0.25) < 1e-9, "sigmoid′ peaks at ¼ (x = 0)"
    assert abs(max(dphi["tanh"]) - 1.0) < 1e-9, "tanh′ peaks at 1"
    neg = [i for i, xi in enumerate(x) if xi < 0]
    pos = [i for i, xi in enumerate(x) if xi > 0]
    assert all(dphi["relu"][i] == 0.0 for i in neg), "ReLU′ = 0 for x < 0: no gradient flows (dead ReLU)"
    assert all(abs(dphi["leaky_relu"][i] - 0.01) < 1e-12 for i in neg), "Leaky ReLU′ = 0.01 for x < 0"
    assert all(dphi["relu"][i] == 1.0 for i in pos), "ReLU′ = 1 for x > 0: no saturation"
    # Saturation: sigmoid's slope falls below 5 % of its peak for |x| > ~4.4, tanh's for |x| > ~2.2.
    for name, edge in (("sigmoid", 4.36), ("tanh", 2.18)):
        intervals = saturated_intervals(data, name)
        assert len(intervals) == 2, f"{name} saturates on both sides"
        assert abs(intervals[0][1] + edge) < 0.05 and abs(intervals[1][0] - edge) < 0.05, f"{name} edge ≈ ±{edge}"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
