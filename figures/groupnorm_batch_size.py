"""BatchNorm, GroupNorm and LayerNorm over mini-batch sizes 2…256 on the digits: GN and LN hold where BN collapses."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from torch import Tensor, nn

from gradnotes.engine.nets import threads
from gradnotes.experiments import digits, stacked
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "after_n_steps_same_lr": {"ko": "{} 단계 학습 후 (같은 학습률)", "en": "after {} steps (same learning rate)"},
    "groups_of_n": {"ko": "{} (그룹 {}개)", "en": "{} ({} groups)"},
}
t = translator(LABELS)

NORMS = ("batchnorm", "groupnorm", "layernorm")
BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)
SIZES = (64, 32, 32, 10)  # the bn_batch_size network: 2 hidden ReLU layers, He normal, the norm before each ReLU
GROUPS = 4  # GroupNorm: 4 groups of 8 units per hidden layer
SEEDS = (0, 1, 2)
STEPS = 100
LR = 0.05
MOMENTUM = 0.9
EPS = 1e-5


class GroupNormMLP(stacked.StackedMLP):
    """The stacked MLP with a real ``nn.GroupNorm`` before every activation.

    ``nn.GroupNorm(members·G, members·width)`` on the (batch, members·width) view normalises every sample over each
    group of width/G consecutive units, and no group straddles two members: per member, exactly nn.GroupNorm(G,
    width). Hidden biases stay (GN's mean is per group, not per unit); they start at 0.
    """

    def __init__(self, sizes: Sequence[int], *, groups: int, inits: Sequence[str], seeds: Sequence[int]) -> None:
        super().__init__(sizes, activation="relu", inits=inits, seeds=seeds, norm="none")
        self.group_norms = nn.ModuleList(
            nn.GroupNorm(self.members * groups, self.members * width, eps=EPS) for width in self.sizes[1:-1]
        )

    def normalize(self, layer: int, a: Tensor) -> Tensor:
        members, batch, width = a.shape
        flat = a.transpose(0, 1).reshape(batch, members * width)
        return self.group_norms[layer](flat).reshape(batch, members, width).transpose(0, 1)


def make_model(norm: str) -> stacked.StackedMLP:
    inits, seeds = ["he_normal"] * len(SEEDS), list(SEEDS)
    if norm == "groupnorm":
        return GroupNormMLP(SIZES, groups=GROUPS, inits=inits, seeds=seeds)
    return stacked.StackedMLP(SIZES, activation="relu", inits=inits, seeds=seeds, norm=norm)


def compute() -> dict:
    """Every (norm, batch size): 100 SGD steps, 3 seeds as one stack; test accuracy in eval mode."""
    data = digits.load_digits("figure groupnorm_batch_size")
    accuracy: dict[str, list[list[float]]] = {norm: [] for norm in NORMS}
    with threads(1):
        for norm in NORMS:
            for batch in BATCH_SIZES:
                model = make_model(norm)
                stacked.train(model, data, steps=STEPS, batch_size=batch, lr=LR, momentum=MOMENTUM)
                _, acc = stacked.evaluate(model, data.x_test, data.y_test)  # eval mode: BN's running statistics
                accuracy[norm].append(stacked.rounded(acc.tolist()))
    return {
        "config": {"sizes": list(SIZES), "groups": GROUPS, "steps": STEPS, "lr": LR, "seeds": list(SEEDS)},
        "batch_sizes": list(BATCH_SIZES),
        "test_accuracy": accuracy,  # [norm][batch size][seed]
    }


def draw(data: dict, lang: str):
    fig = style.figure(style.BODY_WIDTH, 3.4)
    ax = fig.subplots()
    sizes = data["batch_sizes"]
    for norm in NORMS:
        rows = data["test_accuracy"][norm]
        colour = style.COLORS[norm]
        label = t(norm, lang)
        if norm == "groupnorm":
            label = t("groups_of_n", lang).format(label, data["config"]["groups"])
        ax.fill_between(sizes, [min(r) for r in rows], [max(r) for r in rows], color=colour, alpha=0.2, lw=0)
        ax.plot(sizes, [statistics.fmean(r) for r in rows], color=colour, marker="o", ms=4, label=label)
    ax.fill_between([], [], [], color=style.PALETTE["grey"], alpha=0.3, lw=0, label=t("seed_range", lang))
    ax.set(xscale="log", xlabel=t("batch_size", lang), ylabel=t("test_accuracy_eval", lang), ylim=(0, 1.02))
    ax.set_title(t("after_n_steps_same_lr", lang).format(data["config"]["steps"]))
    ax.set_xticks(sizes, [str(b) for b in sizes])
    ax.minorticks_off()
    ax.legend(loc="lower right")
    return fig


def check(data: dict) -> None:
    """The numbers the caption and the alt text state, as they round them."""
    sizes = data["batch_sizes"]
    mean = {norm: [statistics.fmean(r) for r in data["test_accuracy"][norm]] for norm in NORMS}
    at = {b: k for k, b in enumerate(sizes)}
    bn, gn, ln = (mean[n][at[2]] for n in NORMS)
    # Batch size 2: BN (eval mode) collapses to 16 %, GN holds 55 %, LN 68 % — 39 and 52 points above BN.
    for name, value, stated in (("BN", bn, 0.16), ("GN", gn, 0.55), ("LN", ln, 0.68)):
        assert abs(value - stated) < 0.005, f"mini-batch size 2: {name} is {stated:.0%} when rounded (is {value:.3f})"
    for name, value, points in (("GN", gn, 39), ("LN", ln, 52)):
        above = round(100 * (value - bn))
        assert above == points, f"mini-batch size 2: {name} is {points} points above BN (is {above})"
    # The alt text: LN passes 0.9 from size 8, GN only from 16 (0.89 at 8); BN catches up at 8 (0.90).
    assert mean["layernorm"][at[8]] > 0.9, f"LN passes 0.9 at size 8 ({mean['layernorm'][at[8]]:.3f})"
    assert 0.885 <= mean["groupnorm"][at[8]] < 0.9 < mean["groupnorm"][at[16]], "GN passes 0.9 from size 16, not 8"
    assert 0.895 <= mean["batchnorm"][at[8]] < 0.905, f"BN is at 0.90 at size 8 ({mean['batchnorm'][at[8]]:.3f})"
    # From size 8 the three are within 3 points, from size 16 on within 1.5 points.
    for k, b in enumerate(sizes):
        if b >= 8:
            normed = [mean[n][k] for n in NORMS]
            gap, limit = max(normed) - min(normed), 0.03 if b < 16 else 0.015
            assert gap < limit, f"B = {b}: the three norms are within {limit:.1%} (gap {gap:.3f})"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
