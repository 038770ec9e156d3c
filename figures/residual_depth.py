"""log10(layer-1 / layer-L gradient) against depth L for sigmoid + Xavier, plain and with residual connections."""

from __future__ import annotations

import itertools
import math

from _protocol import BATCH, SEEDS, legend_band_entry, legend_theory_entry, log10_ratio, seed_mean, theory_line

from gradnotes.engine import theory
from gradnotes.engine.cache import cached_many
from gradnotes.engine.spec import Spec
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "depth": {"ko": "깊이 L", "en": "depth L"},
    "ratio_first_last": {
        "ko": "역전파 기울기 log₁₀(1층 / L층)",
        "en": "back-propagated gradient, log₁₀(layer 1 / layer L)",
    },
    "plain_net": {"ko": "잔차 연결 없음", "en": "plain"},
    "residual_net": {"ko": "잔차 연결", "en": "residual"},
}
t = translator(LABELS)

ACTIVATION, INIT = "sigmoid", "xavier_normal"  # as in the page's snippet: the worst case for a plain stack
DEPTHS = (2, 5, 10, 15, 20, 30, 40, 50)
WIDTH = 128  # a depth sweep costs ~6x one 30-layer grid row; the ratio's mean does not depend on the width
METRIC = "preact_grad_norm"
VARIANTS = {"plain": False, "residual": True}
# the two architectures (not an activation, init or norm): their own colours and label keys
COLORS = {"plain": style.PALETTE["vermillion"], "residual": style.PALETTE["blue"]}
VARIANT_LABELS = {"plain": "plain_net", "residual": "residual_net"}


def _spec(depth: int, residual: bool, seed: int) -> Spec:
    return Spec(activation=ACTIVATION, init=INIT, depth=depth, width=WIDTH, batch=BATCH, seed=seed, residual=residual)


def compute() -> dict:
    """Per depth and variant: the ratio of every seed, and the mean-field prediction (residual: h + φ(a))."""
    specs = [_spec(d, r, s) for d in DEPTHS for r in VARIANTS.values() for s in SEEDS]
    found = iter(cached_many(specs))
    data: dict = {
        "config": {"activation": ACTIVATION, "init": INIT, "width": WIDTH, "batch": BATCH, "seeds": list(SEEDS)},
        "depths": list(DEPTHS),
        "seeds": {name: [] for name in VARIANTS},
        "theory": {name: [] for name in VARIANTS},
    }
    for depth in DEPTHS:
        for name, residual in VARIANTS.items():
            data["seeds"][name].append([log10_ratio(getattr(next(found), METRIC)) for _ in SEEDS])
            data["theory"][name].append(theory.predict(_spec(depth, residual, 0)).log10_ratio_preact_grad)
    return data


def draw(data: dict, lang: str):
    fig = style.figure(style.BODY_WIDTH, 3.8)
    ax = fig.subplots()
    depths = data["depths"]
    for name in VARIANTS:
        seeds = data["seeds"][name]
        ax.fill_between(
            depths, [min(s) for s in seeds], [max(s) for s in seeds], color=COLORS[name], alpha=0.22, linewidth=0
        )
        ax.plot(
            depths,
            [seed_mean(s) for s in seeds],
            "o-",
            color=COLORS[name],
            markersize=4.5,
            linewidth=2.2,
            label=t(VARIANT_LABELS[name], lang),
        )
        theory_line(ax, depths, data["theory"][name])
    legend_band_entry(ax, t("engine_seed_range", lang).format(len(data["config"]["seeds"])))
    legend_theory_entry(ax, t("theory", lang))
    ax.axhline(0, color=style.PALETTE["grey"], linewidth=0.8, zorder=1)
    ax.set(xlabel=t("depth", lang), ylabel=t("ratio_first_last", lang), xlim=(0, depths[-1] + 2))
    ax.set_title(f"{t(ACTIVATION, lang)} + {t(INIT, lang)}")
    ax.legend(loc="lower left")
    return fig


def check(data: dict) -> None:
    """The numbers the caption states, as it rounds them."""
    depths = data["depths"]
    plain = [seed_mean(s) for s in data["seeds"]["plain"]]
    residual = [seed_mean(s) for s in data["seeds"]["residual"]]
    for name, means in (("plain", plain), ("residual", residual)):
        for depth, mean, predicted in zip(depths, means, data["theory"][name], strict=True):
            assert abs(mean - predicted) < 0.1, f"{name}, L = {depth}: within 0.1 decade of mean field"
    assert all(b < a for a, b in itertools.pairwise(plain)), (
        "plain: the deeper the network, the more the gradient vanishes"
    )
    per_layer = (plain[-1] - plain[0]) / (depths[-1] - depths[0])
    assert -0.65 < per_layer <= -0.6, f"plain: about 0.6 decade (4×) lost per added layer (is {per_layer:.2f})"
    assert round(plain[-1]) == -31, f"plain, L = 50: the ratio is about 10⁻³¹ (is 10^{plain[-1]:.1f})"
    ratios = [r for s in data["seeds"]["residual"] for r in s]
    assert 0 < min(ratios) and max(ratios) < math.log10(6), (
        f"residual: at every depth and seed layer 1 keeps 1 to 6 times layer L's gradient ({max(ratios):.2f})"
    )
    assert round(10 ** residual[-1], 1) in (4.5, 4.6), f"residual, L = 50: mean ratio ≈ 4.5 (10^{residual[-1]:.2f})"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
