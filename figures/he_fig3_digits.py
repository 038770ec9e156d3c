"""A 30-layer ReLU MLP trained on digits: Xavier init stalls at chance, He init learns (He et al. 2015, Fig. 3)."""

from __future__ import annotations

import math

import torch

from gradnotes.engine.nets import threads
from gradnotes.experiments import digits, stacked
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "train_loss": {"ko": "훈련 손실", "en": "training loss"},
    "test_accuracy": {"ko": "테스트 정확도", "en": "test accuracy"},
    "chance_accuracy": {"ko": "무작위 추측 수준 0.1", "en": "chance level 0.1"},
    "relu_mlp_30": {"ko": "30층 ReLU MLP", "en": "30-layer ReLU MLP"},
}
t = translator(LABELS)

DEPTH = 30  # weight layers: 29 hidden ReLU layers and the readout
WIDTH = 32
INITS = ("xavier_normal", "he_normal")
SEEDS = (0, 1, 2)  # per seed both inits draw the same N(0, 1) numbers and the same mini-batches: only the scale differs
STEPS = 600
BATCH = 64
LR = 0.01
MOMENTUM = 0.9
# Every network's gradient is clipped to norm 2 (as clip_grad_norm_ would on it alone). Unclipped, the He runs are
# chaotic: a late loss spike kills units, and a rounding difference decides whether a seed ends near ln 10. Xavier's
# gradients never reach the threshold, so its runs are plain SGD (the check asserts it).
CLIP_NORM = 2.0
WINDOW = 10  # mini-batch losses are averaged over windows of 10 steps
EVAL_EVERY = 30


def compute() -> dict:
    """Train 2 inits × 3 seeds together (one stacked network) with the same SGD settings and gradient clipping."""
    data = digits.load_digits("figure he_fig3_digits")
    inits = [init for init in INITS for _ in SEEDS]
    seeds = [seed for _ in INITS for seed in SEEDS]
    with threads(1):
        model = stacked.StackedMLP([64] + [WIDTH] * (DEPTH - 1) + [10], activation="relu", inits=inits, seeds=seeds)
        history = stacked.train(
            model,
            data,
            steps=STEPS,
            batch_size=BATCH,
            lr=LR,
            momentum=MOMENTUM,
            clip_norm=CLIP_NORM,
            eval_every=EVAL_EVERY,
        )
    losses = torch.tensor(history.batch_loss).view(STEPS // WINDOW, WINDOW, len(seeds)).mean(1)
    accuracy = torch.tensor(history.test_accuracy)
    norms = torch.tensor(history.grad_norm)  # [step][member], before clipping
    clipped = (norms > CLIP_NORM).double().mean(0)  # the fraction of steps clipped, per member
    members = {init: [k for k, name in enumerate(inits) if name == init] for init in INITS}
    return {
        "config": {
            "depth": DEPTH,
            "width": WIDTH,
            "steps": STEPS,
            "batch_size": BATCH,
            "lr": LR,
            "momentum": MOMENTUM,
            "clip_norm": CLIP_NORM,
        },
        "seeds": list(SEEDS),
        "window_steps": [(w + 1) * WINDOW for w in range(STEPS // WINDOW)],
        "train_loss": {init: [stacked.rounded(losses[:, k].tolist()) for k in members[init]] for init in INITS},
        "eval_steps": history.eval_steps,
        "test_accuracy": {init: [stacked.rounded(accuracy[:, k].tolist()) for k in members[init]] for init in INITS},
        "clipped_fraction": {init: stacked.rounded([float(clipped[k]) for k in members[init]]) for init in INITS},
        "max_grad_norm": {init: stacked.rounded([float(norms[:, k].max()) for k in members[init]]) for init in INITS},
    }


def _mean(runs: list[list[float]]) -> list[float]:
    return [sum(values) / len(values) for values in zip(*runs, strict=True)]


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 3.5)
    ax_loss, ax_acc = fig.subplots(1, 2)
    panels = ((ax_loss, "window_steps", "train_loss"), (ax_acc, "eval_steps", "test_accuracy"))
    for ax, x_key, y_key in panels:
        for init in INITS:
            for run in data[y_key][init]:
                ax.plot(data[x_key], run, color=style.COLORS[init], linewidth=0.8, alpha=0.45)
            ax.plot(data[x_key], _mean(data[y_key][init]), color=style.COLORS[init], linewidth=2.2, label=t(init, lang))
    # Drawn above the curves: the Xavier runs lie exactly on the chance level, which is the point.
    chance = {"color": style.PALETTE["black"], "linestyle": ":", "linewidth": 1.2, "zorder": 5}
    ax_loss.axhline(math.log(10), label=t("chance_loss", lang), **chance)
    ax_acc.axhline(0.1, label=t("chance_accuracy", lang), **chance)
    # Thin lines are single seeds, thick ones their mean: one legend entry explains the convention.
    ax_loss.plot([], [], color=style.PALETTE["grey"], linewidth=0.8, alpha=0.6, label=t("seed_runs", lang))
    ax_loss.set(xlabel=t("step", lang), ylabel=t("train_loss", lang), xlim=(0, STEPS))
    ax_acc.set(xlabel=t("step", lang), ylabel=t("test_accuracy", lang), xlim=(0, STEPS), ylim=(0, 1))
    fig.suptitle(t("relu_mlp_30", lang))
    ax_loss.legend(loc="lower left")
    ax_acc.legend(loc="upper left")
    return fig


def check(data: dict) -> None:
    chance = math.log(10)
    for run in data["train_loss"]["xavier_normal"]:
        assert all(abs(v - chance) < 0.02 for v in run), (
            "Xavier init stalls: the loss stays at ln 10 (chance) throughout"
        )
    for run in data["test_accuracy"]["xavier_normal"]:
        assert max(run[1:]) <= 0.12, "Xavier init stalls: test accuracy stays at chance (0.1)"
    assert all(f == 0 for f in data["clipped_fraction"]["xavier_normal"]), (
        "clipping never touches the Xavier runs: their stall is plain SGD's"
    )
    he_final = [run[-1] for run in data["train_loss"]["he_normal"]]
    assert all(v < chance - 0.5 for v in he_final), "He init learns: every seed ends well below ln 10"
    assert sum(he_final) / len(he_final) < 0.6 * chance, "He init learns: the mean final loss is below 0.6·ln 10"
    he_accuracy = [run[-1] for run in data["test_accuracy"]["he_normal"]]
    assert min(he_accuracy) > 0.3, "He init learns: every seed's test accuracy is far above chance"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
