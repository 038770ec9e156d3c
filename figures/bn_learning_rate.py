"""Final training loss vs learning rate on digits, with and without BatchNorm: BN trains at larger rates."""

from __future__ import annotations

import math

from gradnotes.engine.nets import threads
from gradnotes.experiments import digits, stacked
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "learning_rate": {"ko": "학습률", "en": "learning rate"},
    "final_train_loss": {"ko": "최종 훈련 손실", "en": "final training loss"},
    "diverged": {"ko": "발산 (NaN/inf)", "en": "diverged (NaN/inf)"},
}
t = translator(LABELS)

NORMS = ("none", "batchnorm")
SIZES = (64, 32, 32, 32, 32, 10)  # 4 hidden ReLU layers, He normal init
LEARNING_RATES = tuple(10 ** (k / 3) for k in range(-9, 4))  # 0.001 … 10, three per decade
SEEDS = (0, 1, 2)
STEPS = 150
BATCH = 32
MOMENTUM = 0.9
TRAINED = 0.5  # a run "trains" when its final loss is below 0.5 (chance is ln 10 ≈ 2.3)


def compute() -> dict:
    """One stack per norm: 13 learning rates × 3 seeds trained together, then the loss on the whole training set."""
    data = digits.load_digits("figure bn_learning_rate")
    rates = [lr for lr in LEARNING_RATES for _ in SEEDS]
    seeds = [seed for _ in LEARNING_RATES for seed in SEEDS]
    final: dict[str, list[list[float]]] = {}
    with threads(1):
        for norm in NORMS:
            model = stacked.StackedMLP(
                SIZES, activation="relu", inits=["he_normal"] * len(seeds), seeds=seeds, norm=norm
            )
            stacked.train(model, data, steps=STEPS, batch_size=BATCH, lr=rates, momentum=MOMENTUM)
            loss, _ = stacked.evaluate(model, data.x_train, data.y_train)  # eval mode: BN uses its running statistics
            values = stacked.rounded(loss.tolist())
            final[norm] = [values[k * len(SEEDS) : (k + 1) * len(SEEDS)] for k in range(len(LEARNING_RATES))]
    return {
        "config": {
            "sizes": list(SIZES),
            "steps": STEPS,
            "batch_size": BATCH,
            "momentum": MOMENTUM,
            "init": "he_normal",
        },
        "learning_rates": list(LEARNING_RATES),
        "seeds": list(SEEDS),
        "final_loss": final,  # [learning rate][seed]; NaN/inf where the run diverged
        "trained_below": TRAINED,
    }


def _median(values: list[float]) -> float:
    finite = sorted(v for v in values if math.isfinite(v))
    if 2 * len(finite) <= len(values):
        return math.nan  # most seeds diverged: no median to draw
    mid = len(finite) // 2
    return finite[mid] if len(finite) % 2 else (finite[mid - 1] + finite[mid]) / 2


def draw(data: dict, lang: str):
    fig = style.figure(style.BODY_WIDTH, 3.8)
    ax = fig.subplots()
    rates = data["learning_rates"]
    finite = [v for norm in NORMS for row in data["final_loss"][norm] for v in row if math.isfinite(v)]
    top = 10 ** math.ceil(math.log10(max(finite)) + 0.3)
    for k, norm in enumerate(NORMS):
        rows = data["final_loss"][norm]
        ax.plot(
            rates,
            [_median(row) for row in rows],
            color=style.COLORS[norm],
            marker="o",
            markersize=4,
            label=t(norm, lang),
        )
        # Every seed as a small dot; diverged seeds as × on the top edge, nudged apart so both norms stay visible.
        dots = [(lr, v) for lr, row in zip(rates, rows, strict=True) for v in row if math.isfinite(v)]
        lost = sorted({lr for lr, row in zip(rates, rows, strict=True) for v in row if not math.isfinite(v)})
        ax.plot(*zip(*dots, strict=True), ".", color=style.COLORS[norm], markersize=3, alpha=0.6)
        if lost:
            nudged = [lr * (0.93 if k == 0 else 1.07) for lr in lost]
            ax.plot(nudged, [top] * len(lost), "x", color=style.COLORS[norm], markersize=6, clip_on=False)
    ax.plot([], [], "x", color=style.PALETTE["grey"], label=t("diverged", lang))
    ax.plot([], [], ".", color=style.PALETTE["grey"], label=t("seed_runs", lang))
    ax.axhline(math.log(10), color=style.PALETTE["black"], linestyle=":", linewidth=1.2, label=t("chance_loss", lang))
    ax.set(
        xscale="log",
        yscale="log",
        xlabel=t("learning_rate", lang),
        ylabel=t("final_train_loss", lang),
        ylim=(min(finite) / 2, top),
    )
    ax.minorticks_off()  # a log–log plot over 4 decades: minor ticks add clutter (and render time), not information
    ax.legend(loc="upper left", ncols=2)
    return fig


def _largest_training_rate(data: dict, norm: str) -> float:
    """The largest learning rate at which every seed ends below the TRAINED loss."""
    rows = data["final_loss"][norm]
    good = [lr for lr, row in zip(data["learning_rates"], rows, strict=True) if all(v < TRAINED for v in row)]
    return max(good)


def check(data: dict) -> None:
    none, bn = _largest_training_rate(data, "none"), _largest_training_rate(data, "batchnorm")
    assert bn >= 3 * none, f"BN trains at learning rates ≥ 3× larger (largest working rate {bn:.3g} vs {none:.3g})"
    failing = [
        lr
        for lr, row_none, row_bn in zip(
            data["learning_rates"], data["final_loss"]["none"], data["final_loss"]["batchnorm"], strict=True
        )
        if all(not v < 1.0 for v in row_none) and all(v < TRAINED for v in row_bn)
    ]
    assert failing, "at some learning rate every run without BN fails (loss > 1 or NaN) while every BN run trains"
    nonfinite = [v for row in data["final_loss"]["none"] for v in row if not math.isfinite(v)]
    assert nonfinite, "without BN the largest learning rates diverge to NaN/inf"
    best = {norm: min(_median(row) for row in data["final_loss"][norm]) for norm in NORMS}
    assert best["batchnorm"] <= 1.5 * best["none"], "at its best learning rate BN trains at least as well"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
