"""Which axes BatchNorm and LayerNorm average over, drawn on the real outputs of nn.BatchNorm1d and nn.LayerNorm."""

from __future__ import annotations

import torch
from matplotlib.patches import Polygon, Rectangle
from torch import Tensor, nn

from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "batch_axis": {"ko": "배치 축 N (샘플)", "en": "batch axis N (samples)"},
    "feature_axis": {"ko": "특성 축 C (유닛)", "en": "feature axis C (units)"},
    "time_axis": {"ko": "시간 축 T", "en": "time axis T"},
    "bn_statistics": {"ko": "배치 정규화의 평균·분산", "en": "BatchNorm's mean and variance"},
    "ln_statistics": {"ko": "층 정규화의 평균·분산", "en": "LayerNorm's mean and variance"},
    "after_bn": {"ko": "배치 정규화 출력", "en": "BatchNorm output"},
    "after_ln": {"ko": "층 정규화 출력", "en": "LayerNorm output"},
    "mean_short": {"ko": "평균 μ", "en": "mean μ"},
    "variance_short": {"ko": "분산 σ²", "en": "variance σ²"},
    "mu_symbol": {"ko": "μ", "en": "μ"},
    "sigma2_symbol": {"ko": "σ²", "en": "σ²"},
    "sequence_case": {"ko": "시퀀스 (N, C, T)", "en": "sequences (N, C, T)"},
}
t = translator(LABELS)

SAMPLES, FEATURES = 6, 8  # the (N, C) example
SEQ_SAMPLES, SEQ_CHANNELS, SEQ_STEPS = 4, 5, 6  # the (N, C, T) example
BN_COLUMN, LN_ROW = 2, 1  # the column and row drawn highlighted
VALUE_LIMIT = 2.5


def axis_statistics(x: Tensor) -> dict[str, list]:
    """nn.BatchNorm1d's and nn.LayerNorm's outputs for ``x`` (N, C), with their mean and (biased) variance along
    both axes: BN standardises each column (over the batch), LN each row (over the features)."""
    n, c = x.shape
    bn = nn.BatchNorm1d(c, affine=False).train()  # training mode: the batch's own statistics
    ln = nn.LayerNorm(c, elementwise_affine=False)
    with torch.no_grad():
        out_bn, out_ln = bn(x), ln(x)
    return {
        "bn_output": out_bn.tolist(),
        "ln_output": out_ln.tolist(),
        "bn_column_mean": out_bn.mean(0).tolist(),
        "bn_column_var": out_bn.var(0, unbiased=False).tolist(),
        "bn_row_mean": out_bn.mean(1).tolist(),
        "bn_row_var": out_bn.var(1, unbiased=False).tolist(),
        "ln_row_mean": out_ln.mean(1).tolist(),
        "ln_row_var": out_ln.var(1, unbiased=False).tolist(),
        "ln_column_mean": out_ln.mean(0).tolist(),
        "ln_column_var": out_ln.var(0, unbiased=False).tolist(),
    }


def sequence_axis_statistics(x: Tensor) -> dict[str, list]:
    """For sequences ``x`` (N, C, T): nn.BatchNorm1d(C) standardises each channel over (N, T); nn.LayerNorm(C),
    applied at every time step as in RNNs, standardises each (sample, step) over C. Means and variances of both."""
    n, c, steps = x.shape
    bn = nn.BatchNorm1d(c, affine=False).train()
    ln = nn.LayerNorm(c, elementwise_affine=False)
    with torch.no_grad():
        out_bn = bn(x)  # (N, C, T)
        out_ln = ln(x.transpose(1, 2))  # (N, T, C)
    return {
        "bn_channel_mean": out_bn.mean((0, 2)).tolist(),
        "bn_channel_var": out_bn.var((0, 2), unbiased=False).tolist(),
        "ln_step_mean": out_ln.mean(2).flatten().tolist(),
        "ln_step_var": out_ln.var(2, unbiased=False).flatten().tolist(),
        "bn_step_mean": out_bn.mean(1).flatten().tolist(),  # BN leaves a (sample, step) vector unstandardised
    }


def compute() -> dict:
    """A batch with per-feature offsets/scales and per-sample offsets, through the real modules (training mode)."""
    generator = torch.Generator().manual_seed(0)
    offsets = torch.empty(FEATURES).uniform_(-2, 2, generator=generator)
    scales = torch.empty(FEATURES).uniform_(0.5, 2, generator=generator)
    per_sample = torch.randn(SAMPLES, 1, generator=generator)
    x = offsets + scales * torch.randn(SAMPLES, FEATURES, generator=generator) + per_sample
    sequences = torch.randn(SEQ_SAMPLES, SEQ_CHANNELS, SEQ_STEPS, generator=generator) * 2 + 1
    return {
        "input": x.tolist(),
        "flat": axis_statistics(x),
        "sequence_shape": [SEQ_SAMPLES, SEQ_CHANNELS, SEQ_STEPS],
        "sequence": sequence_axis_statistics(sequences),
    }


def _grid(ax, values: list[list[float]], highlight: tuple[str, int], color: str, lang: str, data: dict, norm: str):
    """The (N, C) output as coloured cells, the highlighted column or row, and the computed means and variances."""
    n, c = len(values), len(values[0])
    ax.imshow(values, cmap="RdBu_r", vmin=-VALUE_LIMIT, vmax=VALUE_LIMIT, extent=(-0.5, c - 0.5, n - 0.5, -0.5))
    for k in range(c + 1):
        ax.plot([k - 0.5, k - 0.5], [-0.5, n - 0.5], color="white", lw=1)
    for k in range(n + 1):
        ax.plot([-0.5, c - 0.5], [k - 0.5, k - 0.5], color="white", lw=1)
    kind, index = highlight
    box = (index - 0.5, -0.5, 1, n) if kind == "column" else (-0.5, index - 0.5, c, 1)
    ax.add_patch(Rectangle(box[:2], box[2], box[3], fill=False, edgecolor=color, lw=3, zorder=4))
    small = {"fontsize": 7, "ha": "center", "va": "center"}
    prefix = "bn" if norm == "batchnorm" else "ln"
    # Below the grid: each column's mean and variance; right of it: each row's. Numbers computed from the outputs.
    for row, stat in enumerate(("mean", "var")):
        for k, v in enumerate(data["flat"][f"{prefix}_column_{stat}"]):
            on = kind == "column"
            ax.text(k, n + 0.1 + 0.7 * row, f"{round(v, 2) + 0.0:.2f}", color=color if on else "#444444", **small)
        for k, v in enumerate(data["flat"][f"{prefix}_row_{stat}"]):
            on = kind == "row"
            ax.text(c + 0.3 + 1.1 * row, k, f"{round(v, 2) + 0.0:.2f}", color=color if on else "#444444", **small)
    for row, (key, symbol) in enumerate((("mean_short", "mu_symbol"), ("variance_short", "sigma2_symbol"))):
        ax.text(-0.7, n + 0.1 + 0.7 * row, t(key, lang), fontsize=7, ha="right", va="center")
        ax.text(c + 0.3 + 1.1 * row, -1.0, t(symbol, lang), fontsize=8, ha="center", va="center")
    ax.set_xlim(-0.6, c + 2.0)
    ax.set_ylim(n + 1.1, -1.4)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.grid(False)
    ax.set_xlabel(t("feature_axis", lang), loc="left")
    ax.set_ylabel(t("batch_axis", lang), loc="top")


def _cube(ax, shape: list[int], norm: str, lang: str) -> None:
    """An oblique (N, C, T) box: T to the right, C up, N into the page; the set one statistic is computed over."""
    n, c, steps = shape
    depth = (0.45, 0.3)  # screen offset per sample along N

    def point(ti: float, ci: float, ni: float) -> tuple[float, float]:
        return ti + depth[0] * ni, ci + depth[1] * ni

    def face(corners: list[tuple[float, float, float]], **kw) -> None:
        ax.add_patch(Polygon([point(*p) for p in corners], closed=True, **kw))

    outline = {"facecolor": "#F4F4F4", "edgecolor": "#555555", "lw": 1}
    face([(0, 0, 0), (steps, 0, 0), (steps, c, 0), (0, c, 0)], **outline)  # front: sample 0
    face([(0, c, 0), (steps, c, 0), (steps, c, n), (0, c, n)], **outline)  # top
    face([(steps, 0, 0), (steps, 0, n), (steps, c, n), (steps, c, 0)], **outline)  # right side
    for k in range(1, steps):
        ax.plot(*zip(point(k, 0, 0), point(k, c, 0), point(k, c, n), strict=True), color="#BBBBBB", lw=0.6)
    for k in range(1, c):
        ax.plot(*zip(point(0, k, 0), point(steps, k, 0), point(steps, k, n), strict=True), color="#BBBBBB", lw=0.6)
    for k in range(1, n):
        ax.plot(*zip(point(0, c, k), point(steps, c, k), point(steps, 0, k), strict=True), color="#BBBBBB", lw=0.6)
    shade = {"facecolor": style.COLORS[norm], "alpha": 0.55, "edgecolor": style.COLORS[norm], "lw": 1.5}
    if norm == "batchnorm":  # one channel, every sample and every step
        ch = 2
        face([(0, ch, 0), (steps, ch, 0), (steps, ch + 1, 0), (0, ch + 1, 0)], **shade)
        face([(steps, ch, 0), (steps, ch, n), (steps, ch + 1, n), (steps, ch + 1, 0)], **shade)
    else:  # one sample at one step, every channel
        step = 2
        face([(step, 0, 0), (step + 1, 0, 0), (step + 1, c, 0), (step, c, 0)], **shade)
        face([(step, c, 0), (step + 1, c, 0), (step + 1, c, 1), (step, c, 1)], **shade)
    label = {"fontsize": 8.5, "color": "#333333"}
    ax.text(steps / 2, -0.5, t("time_axis", lang), ha="center", va="top", **label)
    ax.text(-0.3, c / 2, t("feature_axis", lang), ha="right", va="center", rotation=90, **label)
    start, end = point(steps, 0, 0), point(steps, 0, n)
    angle = 33.7  # the depth edge's on-screen angle, atan(0.3 / 0.45)
    ax.text(
        (start[0] + end[0]) / 2 + 0.3,
        (start[1] + end[1]) / 2 - 0.3,
        t("batch_axis", lang),
        rotation=angle,
        ha="center",
        va="top",
        rotation_mode="anchor",
        **label,
    )
    ax.set_xlim(-1.6, steps + depth[0] * n + 1.4)
    ax.set_ylim(-1.5, c + depth[1] * n + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 6.4)
    (ax_bn, ax_ln), (ax_bn3, ax_ln3) = fig.subplots(2, 2)
    flat = data["flat"]
    _grid(ax_bn, flat["bn_output"], ("column", BN_COLUMN), style.COLORS["batchnorm"], lang, data, "batchnorm")
    _grid(ax_ln, flat["ln_output"], ("row", LN_ROW), style.COLORS["layernorm"], lang, data, "layernorm")
    ax_bn.set_title(f"{t('after_bn', lang)} (nn.BatchNorm1d)")
    ax_ln.set_title(f"{t('after_ln', lang)} (nn.LayerNorm)")
    _cube(ax_bn3, data["sequence_shape"], "batchnorm", lang)
    _cube(ax_ln3, data["sequence_shape"], "layernorm", lang)
    ax_bn3.set_title(f"{t('bn_statistics', lang)}, {t('sequence_case', lang)}")
    ax_ln3.set_title(f"{t('ln_statistics', lang)}, {t('sequence_case', lang)}")
    return fig


def check(data: dict) -> None:
    flat, seq = data["flat"], data["sequence"]
    assert all(abs(v) < 1e-5 for v in flat["bn_column_mean"]), "BN output: every column (feature) has mean 0 over N"
    assert all(abs(v - 1) < 1e-3 for v in flat["bn_column_var"]), "BN output: every column has variance 1 over N"
    assert max(abs(v) for v in flat["bn_row_mean"]) > 0.1, "BN does not standardise a sample's row"
    assert all(abs(v) < 1e-5 for v in flat["ln_row_mean"]), "LN output: every row (sample) has mean 0 over C"
    assert all(abs(v - 1) < 1e-3 for v in flat["ln_row_var"]), "LN output: every row has variance 1 over C"
    assert max(abs(v) for v in flat["ln_column_mean"]) > 0.1, "LN does not standardise a feature's column"
    assert all(abs(v) < 1e-5 for v in seq["bn_channel_mean"]), "BN on (N, C, T): each channel has mean 0 over (N, T)"
    assert all(abs(v - 1) < 1e-3 for v in seq["bn_channel_var"]), "BN on (N, C, T): variance 1 over (N, T)"
    assert all(abs(v) < 1e-5 for v in seq["ln_step_mean"]), "LN per step: each (sample, step) has mean 0 over C"
    assert all(abs(v - 1) < 1e-3 for v in seq["ln_step_var"]), "LN per step: each (sample, step) has variance 1 over C"
    assert max(abs(v) for v in seq["bn_step_mean"]) > 0.1, "BN leaves a (sample, step) vector unstandardised"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
