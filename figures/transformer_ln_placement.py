"""FFN gradients of nn.TransformerEncoder at init: Pre-LN's shrink toward the output and with depth; Post-LN's not."""

from __future__ import annotations

import math
import statistics

import torch
import torch.nn.functional as F
from matplotlib.ticker import NullLocator
from torch import nn

from gradnotes.experiments import stacked
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "post_ln": {"ko": "Post-LN (norm_first=False)", "en": "Post-LN (norm_first=False)"},
    "pre_ln": {"ko": "Pre-LN (norm_first=True)", "en": "Pre-LN (norm_first=True)"},
    "encoder_layer": {"ko": "인코더 층 ℓ", "en": "encoder layer ℓ"},
    "stack_depth": {"ko": "층 수 L", "en": "number of layers L"},
    "ffn_grad_norm": {"ko": "FFN 가중치 W₂의 기울기 노름", "en": "gradient norm of the FFN weight W₂"},
    "per_layer_title": {"ko": "층별 ({}층 인코더)", "en": "per layer ({}-layer encoder)"},
    "last_layer_title": {"ko": "마지막 층의 W₂", "en": "W₂ of the last layer"},
    "inverse_sqrt_depth": {"ko": "∝ 1/√L", "en": "∝ 1/√L"},
}
t = translator(LABELS)

D_MODEL, HEADS, D_FF = 64, 4, 256  # d_ff = 4 d_model, as in Vaswani et al.
VOCAB, BATCH, TOKENS = 64, 8, 32
DEPTH = 12  # the per-layer panel
DEPTHS = (3, 6, 12, 24)  # the last-layer panel
SEEDS = (0, 1, 2, 3, 4)
PLACEMENTS = {"post": False, "pre": True}  # -> norm_first
# the two placements are no activation, init or norm of style.COLORS: their own colours
COLORS = {"post": style.PALETTE["vermillion"], "pre": style.PALETTE["blue"]}
PLACEMENT_LABELS = {"post": "post_ln", "pre": "pre_ln"}


def encoder(norm_first: bool, depth: int, generator: torch.Generator) -> tuple[nn.Module, nn.Embedding, nn.Linear]:
    """An ``nn.TransformerEncoder`` (Pre-LN with the final LN it needs), a token embedding and a readout.

    ``nn.TransformerEncoder`` deep-copies one layer, so every layer would start with the same weights: each weight
    matrix is redrawn here, Xavier-uniform from ``generator`` (as Xiong et al. assume), biases 0, LN's γ = 1, β = 0.
    """
    dtype = torch.float64
    layer = nn.TransformerEncoderLayer(
        D_MODEL, HEADS, D_FF, dropout=0.0, batch_first=True, norm_first=norm_first, dtype=dtype
    )
    final_norm = nn.LayerNorm(D_MODEL, dtype=dtype) if norm_first else None  # Post-LN already ends in an LN
    stack = nn.TransformerEncoder(layer, depth, norm=final_norm, enable_nested_tensor=False)
    embedding = nn.Embedding(VOCAB, D_MODEL, dtype=dtype)
    readout = nn.Linear(D_MODEL, VOCAB, bias=False, dtype=dtype)
    with torch.no_grad():
        for name, p in [*stack.named_parameters(), *readout.named_parameters()]:
            if p.dim() >= 2:
                nn.init.xavier_uniform_(p, generator=generator)
            elif "norm" not in name:
                p.zero_()
        nn.init.normal_(embedding.weight, 0.0, 1.0, generator=generator)
    return stack, embedding, readout


def ffn_gradients(norm_first: bool, depth: int, seed: int) -> list[float]:
    """‖∂L/∂W₂‖_F of every layer's second FFN matrix (linear2), for a cross-entropy loss on random next tokens."""
    generator = torch.Generator().manual_seed(seed)
    stack, embedding, readout = encoder(norm_first, depth, generator)
    tokens = torch.randint(VOCAB, (BATCH, TOKENS), generator=generator)
    targets = torch.randint(VOCAB, (BATCH, TOKENS), generator=generator)
    logits = readout(stack(embedding(tokens)))
    F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1)).backward()
    return [float(layer.linear2.weight.grad.norm()) for layer in stack.layers]


def compute() -> dict:
    """Per placement, depth and seed: the FFN gradient of every layer (the gallery runs this on one thread)."""
    runs = {
        name: {str(depth): [ffn_gradients(first, depth, seed) for seed in SEEDS] for depth in DEPTHS}
        for name, first in PLACEMENTS.items()
    }
    return {
        "config": {
            "d_model": D_MODEL,
            "heads": HEADS,
            "d_ff": D_FF,
            "vocab": VOCAB,
            "batch": BATCH,
            "tokens": TOKENS,
            "depth": DEPTH,
            "depths": list(DEPTHS),
            "seeds": list(SEEDS),
            "init": "xavier_uniform",
            "loss": "cross-entropy on random target tokens",
        },
        "runs": {
            name: {d: [stacked.rounded(r) for r in rs] for d, rs in by_depth.items()} for name, by_depth in runs.items()
        },
    }


def log_mean(values: list[float]) -> float:
    """log₁₀ of the geometric mean."""
    return statistics.fmean(math.log10(v) for v in values)


def per_layer(data: dict, name: str, depth: int) -> tuple[list[float], list[float], list[float]]:
    """(geometric mean, min, max) over seeds at every layer."""
    columns = list(zip(*data["runs"][name][str(depth)], strict=True))
    return [10 ** log_mean(list(c)) for c in columns], [min(c) for c in columns], [max(c) for c in columns]


def last_layer(data: dict, name: str) -> tuple[list[float], list[float], list[float]]:
    """(geometric mean, min, max) over seeds of the last layer's gradient, for every depth."""
    finals = [[run[-1] for run in data["runs"][name][str(d)]] for d in data["config"]["depths"]]
    return [10 ** log_mean(f) for f in finals], [min(f) for f in finals], [max(f) for f in finals]


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 4.2)
    ax_layer, ax_depth = fig.subplots(1, 2)
    depth, depths = data["config"]["depth"], data["config"]["depths"]
    xs = list(range(1, depth + 1))
    for name in PLACEMENTS:
        color, label = COLORS[name], t(PLACEMENT_LABELS[name], lang)
        mid, low, high = per_layer(data, name, depth)
        ax_layer.fill_between(xs, low, high, color=color, alpha=0.2, lw=0)
        ax_layer.plot(xs, mid, color=color, marker="o", ms=3, label=label)
        mid, low, high = last_layer(data, name)
        ax_depth.fill_between(depths, low, high, color=color, alpha=0.2, lw=0)
        ax_depth.plot(depths, mid, color=color, marker="o", ms=4, label=label)
    pre_mid, _, _ = last_layer(data, "pre")
    reference = [pre_mid[0] * math.sqrt(depths[0] / d) for d in depths]
    ax_depth.plot(depths, reference, color=style.PALETTE["black"], ls="--", lw=1, label=t("inverse_sqrt_depth", lang))
    ax_layer.fill_between(
        [],
        [],
        [],
        color=style.PALETTE["grey"],
        alpha=0.3,
        lw=0,
        label=t("engine_seed_range", lang).format(len(data["config"]["seeds"])),
    )
    ax_layer.set(yscale="log", xlabel=t("encoder_layer", lang), ylabel=t("ffn_grad_norm", lang))
    ax_layer.set_title(t("per_layer_title", lang).format(depth))
    ax_layer.set_xticks([1, *range(3, depth + 1, 3)])
    ax_depth.set(xscale="log", yscale="log", xlabel=t("stack_depth", lang), ylabel=t("ffn_grad_norm", lang))
    ax_depth.set_title(t("last_layer_title", lang))
    ax_depth.set_xticks(depths, [str(d) for d in depths])
    ax_depth.xaxis.set_minor_locator(NullLocator())
    lows = [v for name in PLACEMENTS for v in (*per_layer(data, name, depth)[1], *last_layer(data, name)[1])]
    highs = [v for name in PLACEMENTS for v in (*per_layer(data, name, depth)[2], *last_layer(data, name)[2])]
    for ax in (ax_layer, ax_depth):
        ax.set_ylim(min(lows) / 1.3, max(highs) * 1.3)
    handles, labels = ax_layer.get_legend_handles_labels()
    extra_handles, extra_labels = ax_depth.get_legend_handles_labels()
    fig.legend(handles + extra_handles[-1:], labels + extra_labels[-1:], loc="outside lower center", ncol=4)
    return fig


def check(data: dict) -> None:
    depth, depths = data["config"]["depth"], data["config"]["depths"]
    assert depth >= 6 and depth in depths, "the per-layer panel shows a stack of at least 6 layers"
    logs = {name: [math.log10(v) for v in per_layer(data, name, depth)[0]] for name in PLACEMENTS}
    # Pre-LN: the gradient shrinks from the first layer toward the last, in every seed.
    fall = logs["pre"][-1] - logs["pre"][0]
    assert -0.48 < fall < -0.3, f"Pre-LN: from layer 1 to layer {depth} the FFN gradient falls 2-3x ({10**-fall:.1f}x)"
    for run in data["runs"]["pre"][str(depth)]:
        assert run[-1] < run[0], "Pre-LN: in every seed the last layer's FFN gradient is below the first layer's"
    # Post-LN: level on average (no trend either way over the stack).
    drift = logs["post"][-1] - logs["post"][0]
    assert abs(drift) < 0.2, f"Post-LN: first and last layers within 0.2 decade on the seed mean ({drift:.2f})"
    # At the output end Post-LN's gradient is the larger one, by more than 2x.
    assert all(post > pre for post, pre in zip(logs["post"], logs["pre"], strict=True)), (
        "Post-LN above Pre-LN everywhere"
    )
    gap = logs["post"][-1] - logs["pre"][-1]
    assert gap > math.log10(2), f"last layer: Post-LN's FFN gradient is over 2x Pre-LN's ({10**gap:.1f}x)"
    # Against depth (Xiong et al. 2020, Theorem 1): Pre-LN's last-layer gradient falls as the stack deepens (their
    # bound scales like 1/sqrt(L); the fit here gives about L^-0.3); Post-LN's does not fall; the gap at the output
    # end therefore widens with depth.
    pre, post = ([math.log10(v) for v in last_layer(data, name)[0]] for name in ("pre", "post"))
    assert all(b < a for a, b in zip(pre, pre[1:], strict=False)), (
        "Pre-LN: the last layer's gradient falls with every added depth"
    )
    pre_slope = statistics.linear_regression([math.log10(d) for d in depths], pre).slope
    assert -0.47 < pre_slope < -0.17, f"Pre-LN: last-layer gradient ∝ L^s with s about -0.3 (s = {pre_slope:.2f})"
    assert min(post) > post[0] - 0.1, "Post-LN: the last layer's gradient does not fall as the stack deepens"
    gaps = [a - b for a, b in zip(post, pre, strict=True)]
    assert gaps[-1] > gaps[0] + 0.2, (
        f"the Post-LN/Pre-LN gap at the output widens with depth ({gaps[0]:.2f}→{gaps[-1]:.2f})"
    )
    assert 10 ** gaps[0] < 2, f"at L = {depths[0]} the gap at the output is below 2x ({10 ** gaps[0]:.1f}x)"
    assert 10 ** gaps[-1] > 3, (
        f"at L = {depths[-1]} Post-LN's last-layer gradient is over 3x Pre-LN's ({10 ** gaps[-1]:.1f}x)"
    )


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
