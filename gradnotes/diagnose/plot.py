"""Draw a report layer by layer: weight-gradient norm, grad:data ratio, activation std, saturated and dead units.

``gradnotes.site.style`` (and with it matplotlib) is imported inside :func:`plot`, so ``gradnotes --help`` stays fast.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from gradnotes.diagnose.text import display_name

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from gradnotes.diagnose.report import Report


# The plot's own texts (merged over the site's glossary by labels.translator).
LABELS = {
    "backprop_rms": {"ko": "역전파 기울기 RMS ‖∂L/∂y‖", "en": "back-propagated gradient RMS ‖∂L/∂y‖"},
    "gradient": {"ko": "기울기", "en": "gradient"},
    "grad_data_ratio": {"ko": "기울기 대 가중치 비 ‖∂L/∂W‖/‖W‖", "en": "grad:data ratio ‖∂L/∂W‖/‖W‖"},
    "act_std": {"ko": "출력의 표준편차", "en": "output standard deviation"},
    "unit_fraction": {"ko": "유닛 비율", "en": "fraction of units"},
    "threshold": {"ko": "경고 기준", "en": "threshold"},
    "layer_forward_order": {"ko": "층 (순전파 순서)", "en": "layer (forward order)"},
    "weight_outputs": {"ko": "가중치 층", "en": "weight layers"},
    "activation_outputs": {"ko": "활성화 함수", "en": "activation functions"},
    "update_data_ratio": {"ko": "갱신량 대 가중치 비 ‖ΔW‖/‖W‖", "en": "update:data ratio ‖ΔW‖/‖W‖"},
    "healthy_ratio": {"ko": "기준 1e-3", "en": "reference 1e-3"},
    "weight_layer_index": {"ko": "가중치 층 (순전파 순서)", "en": "weight layer (forward order)"},
}


def plot(report: Report, lang: str = "en") -> Figure:
    """A per-layer figure of the report: weight-gradient norm, grad:data ratio, activation std, saturated/dead units."""
    from gradnotes.site import style
    from gradnotes.site.labels import translator

    t = translator(LABELS)
    rows = report.layers
    fig = style.figure(style.PAGE_WIDTH, 7.2)
    axes = fig.subplots(2, 2, sharex=True)
    x = list(range(len(rows)))
    names = [display_name(r.name) for r in rows]

    def series(values: list[float | None]) -> tuple[list[int], list[float]]:
        pairs = [(i, v) for i, v in zip(x, values, strict=True) if v is not None and math.isfinite(v) and v > 0]
        return [i for i, _ in pairs], [v for _, v in pairs]

    weight_rows = [r if r.role == "weight" else None for r in rows]
    ax = axes[0, 0]
    for values, marker, color, label in (
        ([r.weight_grad_norm if r else None for r in weight_rows], "o-", style.PALETTE["blue"], "weight_grad_norm"),
        ([r.out_grad_rms if r else None for r in weight_rows], "^-", style.PALETTE["green"], "backprop_rms"),
    ):
        xs, ys = series(values)
        if xs:
            ax.plot(xs, ys, marker, color=color, markersize=4, label=t(label, lang))
    ax.set_yscale("log")
    ax.set_ylabel(t("gradient", lang))
    ax.legend(loc="best")
    ax = axes[0, 1]
    xs, ys = series([r.grad_data_ratio if r else None for r in weight_rows])
    ax.plot(xs, ys, "o-", color=style.PALETTE["blue"], markersize=4)
    ax.axhline(
        report.thresholds.max_grad_data_ratio,
        color=style.PALETTE["vermillion"],
        linestyle="--",
        linewidth=1.2,
        label=t("threshold", lang),
    )
    ax.set_yscale("log")
    ax.set_ylabel(t("grad_data_ratio", lang))
    ax.legend(loc="lower right")
    ax = axes[1, 0]
    for role, marker, color, label in (
        ("weight", "o-", style.PALETTE["blue"], "weight_outputs"),
        ("activation", "s-", style.PALETTE["orange"], "activation_outputs"),
    ):
        xs, ys = series([r.act_std if r.role == role else None for r in rows])
        if xs:
            ax.plot(xs, ys, marker, color=color, markersize=4, label=t(label, lang))
    ax.set_yscale("log")
    ax.set_ylabel(t("act_std", lang))
    ax.legend(loc="best")

    ax = axes[1, 1]
    sat = [(i, r.saturated_fraction) for i, r in zip(x, rows, strict=True) if r.saturated_fraction is not None]
    dead = [(i, r.dead_fraction) for i, r in zip(x, rows, strict=True) if r.dead_fraction is not None]
    if sat:
        ax.bar(
            [i for i, _ in sat], [v for _, v in sat], color=style.COLORS["sigmoid"], label=t("saturated_fraction", lang)
        )
        ax.axhline(report.thresholds.max_saturated_fraction, color=style.COLORS["sigmoid"], linestyle="--", linewidth=1)
    if dead:
        ax.bar(
            [i for i, _ in dead], [v for _, v in dead], color=style.COLORS["relu"], label=t("dead_unit_fraction", lang)
        )
        ax.axhline(report.thresholds.max_dead_fraction, color=style.COLORS["relu"], linestyle=":", linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_ylabel(t("unit_fraction", lang))
    if sat or dead:
        ax.legend(loc="upper left")
    for ax in axes[1]:
        if len(rows) <= 48:  # beyond that, names overlap: the JSON and the table carry them
            ax.set_xticks(x, [f"{n} · {r.kind}" for n, r in zip(names, rows, strict=True)], rotation=90, fontsize=7)
        ax.set_xlabel(t("layer_forward_order", lang))
    return fig


def plot_history(history: dict, lang: str = "en") -> Figure:
    """Per weight layer over steps: the update:data ratio ‖ΔW‖/‖W‖ (with 1e-3 and the thresholds) and ‖∂L/∂W‖.

    The two panels of Karpathy's makemore part 3, one line per weight layer coloured by depth.
    """
    import matplotlib as mpl

    from gradnotes.site import style
    from gradnotes.site.labels import translator

    t = translator(LABELS)
    names = [info["name"] for info in history["layers"] if info["role"] == "weight"]
    fig = style.figure(style.PAGE_WIDTH, 3.8)
    axes = fig.subplots(1, 2)
    cmap = mpl.colormaps["viridis"]
    shade = {name: cmap(0.9 * i / max(1, len(names) - 1)) for i, name in enumerate(names)}
    for ax, key, ylabel in ((axes[0], "update_ratio", "update_data_ratio"), (axes[1], "grad_norm", "weight_grad_norm")):
        for name in names:
            points = [
                (r["step"], r["layers"][name][key])
                for r in history["steps"]
                if name in r["layers"]
                and isinstance(r["layers"][name].get(key), (int, float))
                and math.isfinite(r["layers"][name][key])
                and r["layers"][name][key] > 0
            ]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], color=shade[name], linewidth=1.2)
        ax.set_yscale("log")
        ax.set_xlabel(t("step", lang))
        ax.set_ylabel(t(ylabel, lang))
    th = history.get("thresholds", {})
    axes[0].axhline(1e-3, color=style.PALETTE["black"], linestyle="--", linewidth=1, label=t("healthy_ratio", lang))
    for key in ("max_update_ratio", "min_update_ratio"):
        if key in th:
            axes[0].axhline(th[key], color=style.PALETTE["vermillion"], linestyle=":", linewidth=1)
    axes[0].plot([], [], color=style.PALETTE["vermillion"], linestyle=":", linewidth=1, label=t("threshold", lang))
    axes[0].legend(loc="best")
    if names:
        scalar = mpl.cm.ScalarMappable(cmap=cmap, norm=mpl.colors.Normalize(1, max(2, len(names))))
        bar = fig.colorbar(scalar, ax=axes[1])
        bar.set_label(t("weight_layer_index", lang))
    return fig
