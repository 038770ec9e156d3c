"""Internal covariate shift, two ways: BN shrinks the drift of layer inputs but not the gradient-based measure."""

from __future__ import annotations

import statistics

from gradnotes.experiments import bn_digits, stacked
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "distribution_view": {"ko": "입력 분포의 이동", "en": "input-distribution drift"},
    "gradient_view": {"ko": "기울기 기준 내부 공변량 변화", "en": "gradient-based internal covariate shift"},
    "drift_w1": {"ko": "학습 전 대비 분포 이동 W₁", "en": "drift from step 0, W₁"},
    "grad_change_rel": {"ko": "‖G − G′‖ / ‖G‖", "en": "‖G − G′‖ / ‖G‖"},
    "hidden_layer_n": {"ko": "은닉층 {}의 시그모이드 입력", "en": "sigmoid input of hidden layer {}"},
    "weights_of_layer_n": {"ko": "층 {}의 가중치", "en": "weights of layer {}"},
}
t = translator(LABELS)

NORMS = ("none", "batchnorm")
LINESTYLES = ("-", "--", ":")  # hidden layer 1, 2, 3 (left) and the layers they feed, 2, 3, 4 (right)


def compute() -> dict:
    """From the shared BN-vs-none digits runs: input drift per hidden layer, Santurkar's ‖G − G′‖/‖G‖ per layer."""
    runs = {norm: bn_digits.sigmoid_bn_run(norm) for norm in NORMS}

    def seed_mean(rows: list[list[list[float]]]) -> list[list[float]]:
        """[time][layer][member] → [layer][time], averaged over the seeds."""
        return [stacked.rounded([sum(row[layer]) / len(row[layer]) for row in rows]) for layer in range(len(rows[0]))]

    return {
        "config": bn_digits.sigmoid_bn_config(),
        "eval_steps": runs["none"]["eval_steps"],
        "drift": {norm: seed_mean(runs[norm]["drift"]) for norm in NORMS},
        "ics_steps": runs["none"]["ics"]["steps"],
        "grad_change": {norm: seed_mean(runs[norm]["ics"]["grad_change"]) for norm in NORMS},
        # every seed, for the claim: [measurement][layer][member]
        "grad_change_runs": {norm: runs[norm]["ics"]["grad_change"] for norm in NORMS},
        "drift_runs": {norm: runs[norm]["drift"] for norm in NORMS},
    }


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 3.6)
    ax_drift, ax_grad = fig.subplots(1, 2)
    panels = ((ax_drift, "eval_steps", "drift"), (ax_grad, "ics_steps", "grad_change"))
    for ax, x_key, key in panels:
        for norm in NORMS:
            for layer, series in enumerate(data[key][norm]):
                runs = [row[layer] for row in data[f"{key}_runs"][norm]]  # [time][member]
                ax.fill_between(
                    data[x_key],
                    [min(r) for r in runs],
                    [max(r) for r in runs],
                    color=style.COLORS[norm],
                    alpha=0.12,
                    lw=0,
                )
                ax.plot(data[x_key], series, color=style.COLORS[norm], linestyle=LINESTYLES[layer])
    top = max(max(series) for norm in NORMS for series in data["drift"][norm])
    # Head room for the legend above the curves.
    ax_drift.set(xlabel=t("step", lang), ylabel=t("drift_w1", lang), title=t("distribution_view", lang))
    ax_drift.set_ylim(0, 1.45 * top)
    ax_grad.set(xlabel=t("step", lang), ylabel=t("grad_change_rel", lang), title=t("gradient_view", lang), yscale="log")
    ax_grad.minorticks_off()
    # Colour says BN or not, line style says which layer: two legends.
    for ax, key, first in ((ax_drift, "hidden_layer_n", 1), (ax_grad, "weights_of_layer_n", 2)):
        handles = [ax.plot([], [], color=style.COLORS[norm], label=t(norm, lang))[0] for norm in NORMS]
        handles.append(
            ax.fill_between([], [], [], color=style.PALETTE["grey"], alpha=0.3, lw=0, label=t("seed_range", lang))
        )
        handles += [
            ax.plot([], [], color=style.PALETTE["grey"], linestyle=ls, label=t(key, lang).format(first + k))[0]
            for k, ls in enumerate(LINESTYLES)
        ]
        ax.legend(handles=handles, loc="upper left" if ax is ax_drift else "lower right", fontsize=8.5, ncols=2)
    return fig


def check(data: dict) -> None:
    layers = range(len(data["drift"]["none"]))
    for layer in layers:
        none, bn = data["drift"]["none"][layer][-1], data["drift"]["batchnorm"][layer][-1]
        assert none > 2 * bn, f"BN keeps the input distribution of hidden layer {layer + 1} steadier: final drift < ½"
    for row_none, row_bn in zip(data["drift_runs"]["none"][-1], data["drift_runs"]["batchnorm"][-1], strict=True):
        assert min(row_none) > max(row_bn), "every seed's final drift is smaller with BN than any seed's without"
    for layer in range(len(data["grad_change"]["none"])):
        none = statistics.median(data["grad_change"]["none"][layer])
        bn = statistics.median(data["grad_change"]["batchnorm"][layer])
        assert bn >= none, (
            f"BN does not reduce the gradient-based ICS of layer {layer + 2}: its median ‖G−G′‖/‖G‖ is not smaller"
        )
    ratios = [
        b / n
        for layer in range(len(data["grad_change"]["none"]))
        for b, n in zip(data["grad_change"]["batchnorm"][layer], data["grad_change"]["none"][layer], strict=True)
    ]
    assert sum(r > 1 for r in ratios) > 0.75 * len(ratios), "with BN ‖G−G′‖/‖G‖ is larger at most (layer, step) pairs"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
