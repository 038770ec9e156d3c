"""3×100 sigmoid MLP on digits with and without BatchNorm: test accuracy and one sigmoid's input percentiles."""

from __future__ import annotations

from gradnotes.experiments import bn_digits
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "sigmoid_input": {"ko": "시그모이드 입력", "en": "sigmoid input"},
    "percentiles_15_50_85": {"ko": "15·50·85번째 백분위수", "en": "15th, 50th, 85th percentiles"},
}
t = translator(LABELS)

NORMS = ("none", "batchnorm")
SHOWN_MEMBER = 0  # seed 0
SHOWN_UNIT = 0  # unit 0 of the last hidden layer: "a typical sigmoid", as in Ioffe & Szegedy's Fig. 1
WARMUP_EVALS = 2  # the BN running averages need a few dozen steps; the claims skip the first 40 steps


def compute() -> dict:
    """The shared BN-vs-none digits runs (3 seeds each); accuracy in eval mode, percentiles with batch statistics."""
    runs = {norm: bn_digits.sigmoid_bn_run(norm) for norm in NORMS}
    return {
        "config": bn_digits.sigmoid_bn_config(),
        "eval_steps": runs["none"]["eval_steps"],
        "test_accuracy": {norm: runs[norm]["test_accuracy"] for norm in NORMS},  # [eval][member]
        "percentiles": {norm: runs[norm]["percentiles"] for norm in NORMS},  # [eval][member][unit][level]
    }


def _mean(rows: list[list[float]]) -> list[float]:
    return [sum(row) / len(row) for row in rows]


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 3.4)
    ax_acc, *ax_pct = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.25, 1, 1]})
    steps = data["eval_steps"]
    for norm in NORMS:
        rows = data["test_accuracy"][norm]
        low, high = [min(row) for row in rows], [max(row) for row in rows]
        ax_acc.fill_between(steps, low, high, color=style.COLORS[norm], alpha=0.2, linewidth=0)
        ax_acc.plot(steps, _mean(rows), color=style.COLORS[norm], label=t(norm, lang))
    ax_acc.fill_between([], [], [], color=style.PALETTE["grey"], alpha=0.3, linewidth=0, label=t("seed_range", lang))
    ax_acc.set(xlabel=t("step", lang), ylabel=t("test_accuracy_eval", lang), ylim=(0, 1.02), xlim=(0, steps[-1]))
    ax_acc.legend(loc="lower right")
    every = [p for norm in NORMS for e in data["percentiles"][norm] for p in e[SHOWN_MEMBER][SHOWN_UNIT]]
    limits = (min(every) - 0.2, max(every) + 0.2)
    for ax, norm in zip(ax_pct, NORMS, strict=True):
        levels = [e[SHOWN_MEMBER][SHOWN_UNIT] for e in data["percentiles"][norm]]
        low, mid, high = ([level[k] for level in levels] for k in range(3))
        ax.fill_between(steps, low, high, color=style.COLORS[norm], alpha=0.15, linewidth=0)
        for series, width in ((low, 1.2), (mid, 2.0), (high, 1.2)):
            ax.plot(steps, series, color=style.COLORS[norm], linewidth=width)
        ax.set(xlabel=t("step", lang), title=t(norm, lang), ylim=limits, xlim=(0, steps[-1]))
        ax.plot([], [], color=style.COLORS[norm], linewidth=1.2, label=t("percentiles_15_50_85", lang))
        ax.legend(loc="lower left")
    ax_pct[0].set_ylabel(t("sigmoid_input", lang))
    ax_pct[1].tick_params(labelleft=False)
    return fig


def _drift(data: dict, norm: str, member: int, unit: int, level: int) -> float:
    """How far one percentile moves after the warm-up: max − min over the evaluations."""
    series = [e[member][unit][level] for e in data["percentiles"][norm][WARMUP_EVALS:]]
    return max(series) - min(series)


def check(data: dict) -> None:
    accuracy = {norm: _mean(data["test_accuracy"][norm]) for norm in NORMS}
    early = data["eval_steps"].index(40)
    assert accuracy["batchnorm"][early] > 0.9 > accuracy["none"][early] + 0.3, (
        "with BN the network reaches > 90 % test accuracy by step 40, far ahead of the network without BN"
    )
    assert accuracy["batchnorm"][-1] > accuracy["none"][-1] + 0.02, "with BN the final test accuracy is higher"
    assert min(min(row) for row in data["test_accuracy"]["batchnorm"][early:]) > 0.9, (
        "with BN every seed stays above 90 % from step 40 on (eval mode, running statistics)"
    )
    members = len(data["config"]["seeds"])
    units = len(data["percentiles"]["none"][0][0])
    ratios = []
    for member in range(members):
        for unit in range(units):
            none = _drift(data, "none", member, unit, 0) + _drift(data, "none", member, unit, 2)
            bn = _drift(data, "batchnorm", member, unit, 0) + _drift(data, "batchnorm", member, unit, 2)
            ratios.append(none / bn)
    ratios.sort()
    assert ratios[len(ratios) // 2] > 2.0, (
        "without BN the 15th/85th percentiles of a last-layer sigmoid input drift over twice as far (median unit)"
    )
    shown = (_drift(data, "none", SHOWN_MEMBER, SHOWN_UNIT, 0), _drift(data, "batchnorm", SHOWN_MEMBER, SHOWN_UNIT, 0))
    assert shown[0] > 2 * shown[1], "the drawn sigmoid's 15th percentile drifts over twice as far without BN"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
