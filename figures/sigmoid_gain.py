"""A gain fixes the sigmoid's ¼ but not its 0.5 mean: log10(layer 1 / layer 30) gradient and saturation vs the gain."""

from __future__ import annotations

import math

from _protocol import (
    BATCH,
    DEPTH,
    SEEDS,
    WIDTH,
    config,
    legend_band_entry,
    legend_theory_entry,
    log10_ratio,
    seed_mean,
    theory_line,
)
from matplotlib.ticker import FixedLocator, NullLocator

from gradnotes.engine import theory
from gradnotes.engine.cache import cached_many
from gradnotes.engine.sim import SATURATION_Z
from gradnotes.engine.spec import Spec
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "centered_sigmoid": {"ko": "중심화 시그모이드 s(z) − ½", "en": "centered sigmoid s(z) − ½"},
    "gain_axis": {"ko": "이득 g (세이비어 정규분포 × g, 로그 눈금)", "en": "gain g (Xavier normal × g, log scale)"},
    "ratio_axis": {"ko": "log₁₀(‖∂L/∂a₁‖ / ‖∂L/∂a{}‖)", "en": "log₁₀(‖∂L/∂a₁‖ / ‖∂L/∂a{}‖)"},
    "ratio_title": {"ko": "역전파된 기울기의 1층 / {}층 비", "en": "back-propagated gradient, layer 1 / layer {}"},
    "saturation_axis": {"ko": "{}층에서 포화한 비율", "en": "saturated fraction at layer {}"},
    "saturation_title": {
        "ko": "마지막 층의 포화 (φ′ < φ′(0)의 5%)",
        "en": "saturation of the last layer (φ′ < 5 % of φ′(0))",
    },
    "rule_4x": {"ko": "시그모이드의 '4배' 규칙", "en": "the sigmoid's '4×' rule"},
    "critical_gain": {"ko": "임계 이득 ≈ {:.1f}", "en": "critical gain ≈ {:.1f}"},
}
t = translator(LABELS)

INIT = "xavier_normal"
ACTIVATIONS = ("sigmoid", "centered_sigmoid", "tanh")
GAINS = (1, 2, 3, 4, 6, 8, 10, 12, 16)
METRIC = "preact_grad_norm"  # dL/da_l, the back-propagated gradient
RULE_GAIN = 4  # "4 x Xavier for the sigmoid" (LISA DeepLearningTutorials; Bengio 2012)
SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
MARKERS = {"sigmoid": "o", "centered_sigmoid": "s", "tanh": "^"}


def _spec(activation: str, gain: float, seed: int) -> Spec:
    return Spec(activation=activation, init=INIT, gain=gain, depth=DEPTH, width=WIDTH, batch=BATCH, seed=seed)


def _saturated(activation: str, q: float) -> float:
    """Mean-field saturated fraction: P(|z| > z_sat) for z ~ N(0, q)."""
    return math.erfc(SATURATION_Z[activation] / math.sqrt(2.0 * q))


def compute() -> dict:
    """Per activation and gain: every seed's log10 ratio and last-layer saturated fraction, and mean field's."""
    specs = [_spec(a, g, s) for a in ACTIVATIONS for g in GAINS for s in SEEDS]
    results = dict(zip(specs, cached_many(specs), strict=True))
    curves = {}
    for activation in ACTIVATIONS:
        points = []
        for gain in GAINS:
            runs = [results[_spec(activation, gain, s)] for s in SEEDS]
            prediction = theory.predict(runs[0].spec)
            points.append(
                {
                    "gain": gain,
                    "ratio": [log10_ratio(getattr(r, METRIC)) for r in runs],
                    "saturated": [r.saturated_fraction[-1] for r in runs],
                    "theory_ratio": prediction.log10_ratio_preact_grad,
                    "theory_saturated": _saturated(activation, prediction.q[-1]),
                    "theory_q": prediction.q[-1],  # Var[a_L]
                }
            )
        curves[activation] = points
    return {"config": config(init=INIT, metric=METRIC, gains=list(GAINS)), "curves": curves}


def _mean(points: list[dict], key: str) -> list[float]:
    return [seed_mean(p[key]) for p in points]


def critical_gain(points: list[dict]) -> float:
    """Where the seed-mean ratio crosses 0, interpolated linearly in log(gain) between the bracketing gains."""
    gains, ratios = [p["gain"] for p in points], _mean(points, "ratio")
    for g0, r0, g1, r1 in zip(gains, ratios, gains[1:], ratios[1:], strict=False):
        if r0 < 0 <= r1:
            x = math.log(g0) + (math.log(g1) - math.log(g0)) * (-r0) / (r1 - r0)
            return math.exp(x)
    return math.nan


def _at(points: list[dict], key: str, gain: float) -> float:
    """A seed-mean quantity at any gain in range, interpolated linearly in log(gain)."""
    xs, ys = [math.log(p["gain"]) for p in points], _mean(points, key)
    x = math.log(gain)
    for x0, y0, x1, y1 in zip(xs, ys, xs[1:], ys[1:], strict=False):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    raise ValueError(f"gain {gain} outside {GAINS}")


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 4.1)
    ax_ratio, ax_sat = fig.subplots(1, 2)
    depth = data["config"]["depth"]
    for activation in ACTIVATIONS:
        points = data["curves"][activation]
        gains = [p["gain"] for p in points]
        color = style.COLORS[activation]
        for ax, key in ((ax_ratio, "ratio"), (ax_sat, "saturated")):
            low = [min(p[key]) for p in points]
            high = [max(p[key]) for p in points]
            ax.fill_between(gains, low, high, color=color, alpha=0.22, linewidth=0)
            ax.plot(gains, _mean(points, key), color=color, marker=MARKERS[activation], label=t(activation, lang))
            theory_line(ax, gains, [p[f"theory_{key}"] for p in points])
    ax_ratio.axhline(0.0, color=style.PALETTE["grey"], linewidth=0.8)
    for ax in (ax_ratio, ax_sat):
        ax.axvline(RULE_GAIN, color=style.PALETTE["grey"], linestyle=(0, (1, 2)), linewidth=1.2)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(list(GAINS)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(g) for g in GAINS])
        ax.set_xlim(GAINS[0] * 0.92, GAINS[-1] * 1.08)
        ax.set_xlabel(t("gain_axis", lang))
    ax_ratio.text(
        RULE_GAIN * 1.04, 0.04, t("rule_4x", lang), transform=ax_ratio.get_xaxis_transform(), fontsize=8, rotation=90
    )
    critical = critical_gain(data["curves"]["sigmoid"])
    ax_ratio.annotate(
        t("critical_gain", lang).format(critical),
        xy=(critical, 0.0),
        xytext=(critical * 0.55, -9.0),
        arrowprops={"arrowstyle": "->", "color": style.COLORS["sigmoid"], "linewidth": 1.0},
        color=style.COLORS["sigmoid"],
        fontsize=9,
    )
    ax_ratio.set(
        title=t("ratio_title", lang).format(depth), ylabel=t("ratio_axis", lang).format(str(depth).translate(SUBSCRIPT))
    )
    ax_sat.set(
        title=t("saturation_title", lang),
        ylabel=t("saturation_axis", lang).format(depth),
        ylim=(-0.02, 1.0),
    )
    legend_band_entry(ax_ratio, t("engine_seed_range", lang).format(len(data["config"]["seeds"])))
    legend_theory_entry(ax_ratio, t("theory", lang))
    ax_ratio.legend(loc="upper left", fontsize=8)
    return fig


def check(data: dict) -> None:
    curves = data["curves"]
    sig, centred, tanh = curves["sigmoid"], curves["centered_sigmoid"], curves["tanh"]
    for activation, points in curves.items():
        for p in points:
            mean = seed_mean(p["ratio"])
            assert abs(mean - p["theory_ratio"]) < 0.3, (
                f"{activation} at gain {p['gain']}: simulation within 0.3 decade of mean field "
                f"({mean:.2f} vs {p['theory_ratio']:.2f})"
            )
        ratios = _mean(points, "ratio")
        assert all(a < b for a, b in zip(ratios, ratios[1:], strict=False)), (
            f"{activation}: the ratio rises with the gain"
        )
    assert _at(sig, "ratio", 1) < -15, "sigmoid + Xavier (gain 1) vanishes by more than 15 decades over 30 layers"
    assert -19 < _at(sig, "ratio", 1) < -17.5 and -6.5 < _at(sig, "ratio", RULE_GAIN) < -5.5, (
        "the '4x' rule lifts the ratio from about -18 to about -6"
    )
    saturated = _mean(sig, "saturated")
    assert all(a <= b for a, b in zip(saturated, saturated[1:], strict=False)), "more gain, more saturated units"
    assert -7 < _at(sig, "ratio", RULE_GAIN) < -5, "the '4x' rule still loses 5-7 decades over 30 layers"
    critical = critical_gain(sig)
    assert 8 <= critical <= 12, f"the sigmoid's critical gain is between 8 and 12 ({critical:.2f})"
    saturated = _at(sig, "saturated", critical)
    assert 0.4 < saturated < 0.65, (
        f"about half the sigmoid's last-layer values are saturated at criticality ({saturated:.2f})"
    )
    # the common-mode term (1/2) sum_j W_ij has variance g^2/4; at gain 1 it is most of Var[a] (Var[h] << 1/4)
    for p in sig:
        assert p["theory_q"] >= p["gain"] ** 2 / 4, "Var[a] includes the common-mode variance g^2 / 4"
    assert sig[0]["theory_q"] < 1.25 * GAINS[0] ** 2 / 4, "at gain 1 the common mode is most of Var[a]"
    assert 1 < critical_gain(tanh) < 1.5, "tanh + Xavier (gain 1) is already close to criticality"
    assert _at(sig, "ratio", 16) > 1, "at gain 16 the sigmoid's gradient explodes toward the input"
    assert abs(_at(centred, "ratio", 4) - _at(tanh, "ratio", 1)) < 0.5, (
        "centred sigmoid at gain 4 is within half a decade of tanh + Xavier (s(z) - 1/2 = tanh(z/2)/2)"
    )
    for gain in (1, 2, 3, 4):
        assert abs(_at(centred, "ratio", 4 * gain) - _at(tanh, "ratio", gain)) < 0.5, (
            f"centred sigmoid at gain {4 * gain} behaves like tanh at gain {gain}"
        )
    assert _at(centred, "saturated", critical_gain(centred)) < 0.1, (
        "at its own critical gain the centred sigmoid has under 10 % of its units saturated"
    )
    twice = critical / critical_gain(centred)
    assert 1.6 < twice < 2.5, f"the sigmoid needs about twice the centred sigmoid's critical gain ({twice:.2f}x)"
    cost = _at(centred, "ratio", RULE_GAIN) - _at(sig, "ratio", RULE_GAIN)
    assert 4 < cost < 6, (
        f"at gain 4 the 0.5 mean alone costs the sigmoid about 5 decades against the centred sigmoid ({cost:.2f})"
    )


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
