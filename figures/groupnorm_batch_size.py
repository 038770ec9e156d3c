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
    sizes = data["batch_sizes"]
    mean = {norm: [statistics.fmean(r) for r in data["test_accuracy"][norm]] for norm in NORMS}
    bn, gn, ln = (mean[n][0] for n in NORMS)
    assert bn < 0.3, f"at mini-batch size 2 BN (eval mode) collapses below 30 % accuracy (is {bn:.2f})"
    for name, value in (("GN", gn), ("LN", ln)):
        assert value > bn + 0.3, f"at mini-batch size 2 {name} is > 30 points above BN ({value:.2f} vs {bn:.2f})"
        assert value > 0.5, f"at mini-batch size 2 {name} still classifies over half the test digits ({value:.2f})"
    large = [k for k, b in enumerate(sizes) if b >= 32]
    for k in large:
        normed = [mean[n][k] for n in ("batchnorm", "groupnorm", "layernorm")]
        gap = max(normed) - min(normed)
        assert gap < 0.05, f"from mini-batch size 32 on the three norms are within 5 points (B = {sizes[k]}: {gap:.3f})"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
