"""The set each norm averages over, measured on nn.BatchNorm2d, LayerNorm, InstanceNorm2d, GroupNorm and RMSNorm."""

from __future__ import annotations

import torch
from matplotlib.patches import Polygon
from torch import Tensor, nn

from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "batch_axis_short": {"ko": "N (배치)", "en": "N (batch)"},
    "channel_axis": {"ko": "C (채널)", "en": "C (channels)"},
    "spatial_axis": {"ko": "H·W (공간)", "en": "H·W (space)"},
    "token_axis": {"ko": "T (토큰)", "en": "T (tokens)"},
    "feature_axis_short": {"ko": "C (특성)", "en": "C (features)"},
    "stats_mean_var": {"ko": "μ = {:.2f}, σ² = {:.2f}", "en": "μ = {:.2f}, σ² = {:.2f}"},
    "stats_mean_rms": {"ko": "μ = {:.2f}, RMS = {:.2f}", "en": "μ = {:.2f}, RMS = {:.2f}"},
    "groups_n": {"ko": "그룹 {}개", "en": "{} groups"},
}
t = translator(LABELS)

N, C, H, W = 3, 6, 4, 4  # the image batch drawn: 3 samples, 6 channels, 4×4 pixels
GROUPS = 3  # GroupNorm: 3 groups of 2 channels
T = 5  # tokens per sequence for RMSNorm
SHOWN_CHANNEL, SHOWN_SAMPLE, SHOWN_GROUP, SHOWN_TOKEN = 2, 0, 1, 2
NORMS = ("batchnorm", "layernorm", "instancenorm", "groupnorm", "rmsnorm")
MODULE_NAMES = {
    "batchnorm": "nn.BatchNorm2d(C)",
    "layernorm": "nn.LayerNorm([C, H, W])",
    "instancenorm": "nn.InstanceNorm2d(C)",
    "groupnorm": "nn.GroupNorm(3, C)",
    "rmsnorm": "nn.RMSNorm(C)",
}


def modules() -> dict[str, nn.Module]:
    """The real modules, without affine parameters (γ = 1, β = 0 at init anyway), BN in training mode."""
    return {
        "batchnorm": nn.BatchNorm2d(C, affine=False).train(),
        "layernorm": nn.LayerNorm([C, H, W], elementwise_affine=False),
        "instancenorm": nn.InstanceNorm2d(C),
        "groupnorm": nn.GroupNorm(GROUPS, C, affine=False),
        "rmsnorm": nn.RMSNorm(C, elementwise_affine=False),
    }


def stats(values: Tensor) -> dict[str, float]:
    """Mean, biased variance and root mean square of a set of values."""
    return {
        "mean": float(values.mean()),
        "var": float(values.var(unbiased=False)),
        "rms": float(values.pow(2).mean().sqrt()),
    }


def sets(norm: str, out: Tensor) -> dict[str, list[dict[str, float]]]:
    """Statistics of the output over the norm's own sets ("own") and over another module's sets ("other")."""
    if norm == "rmsnorm":  # out is (N, T, C): one set per (sample, token), over C
        own = [stats(out[n, k]) for n in range(N) for k in range(T)]
        other = [stats(out[:, :, c]) for c in range(C)]  # a feature over (N, T): not what RMSNorm fixes
        return {"own": own, "other": other}
    per_channel = [stats(out[:, c]) for c in range(C)]  # over N·H·W
    per_sample = [stats(out[n]) for n in range(N)]  # over C·H·W
    per_instance = [stats(out[n, c]) for n in range(N) for c in range(C)]  # over H·W
    size = C // GROUPS
    per_group = [stats(out[n, g * size : (g + 1) * size]) for n in range(N) for g in range(GROUPS)]
    per_pixel = [stats(out[n, :, i, j]) for n in range(N) for i in range(H) for j in range(W)]  # over C
    own, other = {
        "batchnorm": (per_channel, per_sample),
        "layernorm": (per_sample, per_channel),
        "instancenorm": (per_instance, per_pixel),  # any union of instances is standardised too: look across C
        "groupnorm": (per_group, per_instance),
    }[norm]
    return {"own": own, "other": other}


def compute() -> dict:
    """Images with per-channel and per-sample offsets and scales, and token sequences, through the five modules."""
    generator = torch.Generator().manual_seed(0)
    channel_offset = torch.empty(1, C, 1, 1).uniform_(-2, 2, generator=generator)
    channel_scale = torch.empty(1, C, 1, 1).uniform_(0.5, 2, generator=generator)
    sample_offset = torch.randn(N, 1, 1, 1, generator=generator)
    images = channel_offset + channel_scale * torch.randn(N, C, H, W, generator=generator) + sample_offset
    tokens = torch.randn(N, T, C, generator=generator) + 1.0  # a common offset RMSNorm does not remove
    results = {}
    with torch.no_grad():
        for norm, module in modules().items():
            out = module(tokens if norm == "rmsnorm" else images)
            results[norm] = sets(norm, out)
    return {"shape": [N, C, H, W], "tokens": T, "groups": GROUPS, "results": results}


def _box(ax, size: tuple[int, int, int], part: tuple[float, ...], colour: str) -> None:
    """An oblique box of ``size`` (x, y, depth) with the sub-box ``part`` = (x0, x1, y0, y1, z0, z1) shaded."""
    slant = (0.45, 0.32)

    def p(x: float, y: float, z: float) -> tuple[float, float]:
        return x + slant[0] * z, y + slant[1] * z

    def face(corners, **kw) -> None:
        ax.add_patch(Polygon([p(*c) for c in corners], closed=True, **kw))

    def faces(x0, x1, y0, y1, z0, z1, **kw) -> None:
        face([(x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0)], **kw)  # front
        face([(x0, y1, z0), (x1, y1, z0), (x1, y1, z1), (x0, y1, z1)], **kw)  # top
        face([(x1, y0, z0), (x1, y0, z1), (x1, y1, z1), (x1, y1, z0)], **kw)  # right

    sx, sy, sz = size
    faces(0, sx, 0, sy, 0, sz, facecolor="#F4F4F4", edgecolor="#555555", lw=1)
    for k in range(1, sx):
        ax.plot(*zip(p(k, 0, 0), p(k, sy, 0), p(k, sy, sz), strict=True), color="#BBBBBB", lw=0.6)
    for k in range(1, sy):
        ax.plot(*zip(p(0, k, 0), p(sx, k, 0), p(sx, k, sz), strict=True), color="#BBBBBB", lw=0.6)
    for k in range(1, sz):
        ax.plot(*zip(p(0, sy, k), p(sx, sy, k), p(sx, 0, k), strict=True), color="#BBBBBB", lw=0.6)
    faces(*part, facecolor=colour, alpha=0.6, edgecolor=colour, lw=1.5)
    ax.set_xlim(-1.2, 7.8)  # one scale for every panel: the sizes compare
    ax.set_ylim(-1.6, 7.4)
    ax.set_aspect("equal")
    ax.axis("off")


def shaded(norm: str, data: dict) -> int:
    """The index, in the norm's "own" sets, of the set the figure shades."""
    groups, tokens = data["groups"], data["tokens"]
    return {
        "batchnorm": SHOWN_CHANNEL,
        "layernorm": SHOWN_SAMPLE,
        "instancenorm": SHOWN_SAMPLE * C + SHOWN_CHANNEL,
        "groupnorm": SHOWN_SAMPLE * groups + SHOWN_GROUP,
        "rmsnorm": SHOWN_SAMPLE * tokens + SHOWN_TOKEN,
    }[norm]


def draw(data: dict, lang: str):
    # Three boxes above, two below, at the body width: every label stays legible at the page's width.
    fig = style.figure(style.BODY_WIDTH, 5.6)
    mosaic = [
        ["batchnorm"] * 2 + ["layernorm"] * 2 + ["instancenorm"] * 2,
        ["."] + ["groupnorm"] * 2 + ["rmsnorm"] * 2 + ["."],
    ]
    axes = fig.subplot_mosaic(mosaic)
    spatial = 4  # H·W drawn as 4 rows
    size = C // data["groups"]
    parts = {
        "batchnorm": (SHOWN_CHANNEL, SHOWN_CHANNEL + 1, 0, spatial, 0, N),
        "layernorm": (0, C, 0, spatial, SHOWN_SAMPLE, SHOWN_SAMPLE + 1),
        "instancenorm": (SHOWN_CHANNEL, SHOWN_CHANNEL + 1, 0, spatial, SHOWN_SAMPLE, SHOWN_SAMPLE + 1),
        "groupnorm": (SHOWN_GROUP * size, (SHOWN_GROUP + 1) * size, 0, spatial, SHOWN_SAMPLE, SHOWN_SAMPLE + 1),
        "rmsnorm": (SHOWN_TOKEN, SHOWN_TOKEN + 1, 0, C, SHOWN_SAMPLE, SHOWN_SAMPLE + 1),
    }
    label = {"fontsize": 9, "color": "#333333"}
    for norm in NORMS:
        ax = axes[norm]
        sequence = norm == "rmsnorm"
        box = (data["tokens"], C, N) if sequence else (C, spatial, N)
        _box(ax, box, parts[norm], style.COLORS[norm])
        ax.set_ylim(-3.2, 7.4)  # room under the box for the axis label and the two lines of statistics
        ax.text(box[0] / 2, -0.3, t("token_axis" if sequence else "channel_axis", lang), ha="center", va="top", **label)
        axis = "feature_axis_short" if sequence else "spatial_axis"
        ax.text(-0.25, box[1] / 2, t(axis, lang), ha="right", va="center", rotation=90, **label)
        # N runs along the receding edge at the bottom right: the label follows that edge, clear of the text below
        ax.text(
            box[0] + 0.3,
            0.05,
            t("batch_axis_short", lang),
            ha="left",
            va="top",
            rotation=35,
            rotation_mode="anchor",
            **label,
        )
        title = (
            t(norm, lang) if norm != "groupnorm" else f"{t(norm, lang)} ({t('groups_n', lang).format(data['groups'])})"
        )
        ax.set_title(f"{title}\n{MODULE_NAMES[norm]}", fontsize=10)
        shown = data["results"][norm]["own"][shaded(norm, data)]
        key = "stats_mean_rms" if sequence else "stats_mean_var"
        value = shown["rms"] if sequence else shown["var"]
        mean, spread = t(key, lang).format(round(shown["mean"], 2) + 0.0, value).split(", ")
        ax.text(box[0] / 2, -1.25, f"{mean}\n{spread}", ha="center", va="top", fontsize=10, linespacing=1.3)
    return fig


def check(data: dict) -> None:
    results = data["results"]
    for norm in ("batchnorm", "layernorm", "instancenorm", "groupnorm"):
        own, other = results[norm]["own"], results[norm]["other"]
        worst_mean = max(abs(s["mean"]) for s in own)
        worst_var = max(abs(s["var"] - 1) for s in own)
        assert worst_mean < 1e-5, f"{norm}: mean 0 over each of its own sets (worst |μ| = {worst_mean:.1e})"
        assert worst_var < 0.02, f"{norm}: variance 1 over each of its own sets (worst |σ² − 1| = {worst_var:.1e})"
        loose = max(abs(s["mean"]) for s in other)
        assert loose > 0.1, f"{norm}: another module's sets are not standardised (largest |μ| = {loose:.2f})"
    rms = results["rmsnorm"]["own"]
    worst = max(abs(s["rms"] - 1) for s in rms)
    assert worst < 1e-3, f"RMSNorm: root mean square 1 over C for every (sample, token) (worst {worst:.1e})"
    # The caption: the common offset +1 survives RMSNorm, every token's mean between 0.27 and 0.94, the shaded 0.85.
    means = [s["mean"] for s in rms]
    assert round(min(means), 2) == 0.27 and round(max(means), 2) == 0.94, (
        f"RMSNorm: token means {min(means):.3f}…{max(means):.3f}"
    )
    middle = rms[shaded("rmsnorm", data)]["mean"]
    assert round(middle, 2) == 0.85, f"RMSNorm: the shaded token's mean is 0.85 (is {middle:.3f})"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
