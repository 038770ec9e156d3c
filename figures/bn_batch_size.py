"""BatchNorm vs LayerNorm over mini-batch sizes 2…256: digits accuracy and one sample's dependence on its batch."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gradnotes.engine.nets import threads
from gradnotes.errors import UserError
from gradnotes.experiments import digits, stacked
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "after_n_steps": {"ko": "{} 단계 학습 후", "en": "after {} steps"},
    "batch_dependence": {"ko": "같은 샘플, 다른 미니배치", "en": "same sample, different mini-batches"},
    "sample_spread": {"ko": "한 샘플 출력의 표준편차", "en": "std of one sample's output"},
}
t = translator(LABELS)

NORMS = ("batchnorm", "layernorm")
BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)
SIZES = (64, 32, 32, 10)  # 2 hidden ReLU layers, He normal init, the norm before each activation
SEEDS = (0, 1, 2)
STEPS = 100  # the same number of SGD steps for every batch size
LR = 0.05
MOMENTUM = 0.9
PROBES = 8  # samples whose normalised value is followed across random mini-batches
DRAWS = 64  # random mini-batches per probe and batch size


def batch_dependence(
    features: Tensor, batch_sizes: Sequence[int], *, probes: int, draws: int, generator: torch.Generator
) -> dict[str, list[float]]:
    """How much one sample's normalised value depends on the rest of its mini-batch.

    For each batch size B, each of ``probes`` samples is normalised ``draws`` times, each time with B − 1 other
    samples drawn at random; reported is the standard deviation of its output across draws, averaged over units
    and probes (real nn.BatchNorm1d in training mode; nn.LayerNorm for comparison, which sees one sample only).
    """
    n, units = features.shape
    bn_spread, ln_spread = [], []
    ln = nn.LayerNorm(units, elementwise_affine=False)
    for batch in batch_sizes:
        if not 2 <= batch <= n:
            raise UserError(f"batch sizes must be between 2 and {n}, got {batch}")
        bn_values, ln_values = [], []
        for probe in range(probes):
            others = torch.cat([torch.arange(probe), torch.arange(probe + 1, n)])
            picks = torch.stack([others[torch.randperm(n - 1, generator=generator)[: batch - 1]] for _ in range(draws)])
            index = torch.cat([torch.full((draws, 1), probe), picks], dim=1)  # (draws, batch); the probe is row 0
            batches = features[index]  # (draws, batch, units)
            # One BatchNorm1d over (batch, draws·units): each draw's units are separate channels, so every draw gets
            # exactly its own batch statistics.
            bn = nn.BatchNorm1d(draws * units, affine=False).train()
            with torch.no_grad():
                flat = batches.transpose(0, 1).reshape(batch, draws * units)
                out_bn = bn(flat)[0].view(draws, units)
                out_ln = ln(batches[:, 0])
            bn_values.append(out_bn.std(0).mean())
            ln_values.append(out_ln.std(0).mean())
        bn_spread.append(float(torch.stack(bn_values).mean()))
        ln_spread.append(float(torch.stack(ln_values).mean()))
    return {"batchnorm": bn_spread, "layernorm": ln_spread}


def compute() -> dict:
    """Train every (norm, batch size) for 100 steps (3 seeds); then measure one sample's output across mini-batches."""
    data = digits.load_digits("figure bn_batch_size")
    accuracy: dict[str, list[list[float]]] = {norm: [] for norm in NORMS}
    with threads(1):
        for norm in NORMS:
            for batch in BATCH_SIZES:
                model = stacked.StackedMLP(
                    SIZES, activation="relu", inits=["he_normal"] * len(SEEDS), seeds=list(SEEDS), norm=norm
                )
                stacked.train(model, data, steps=STEPS, batch_size=batch, lr=LR, momentum=MOMENTUM)
                _, acc = stacked.evaluate(model, data.x_test, data.y_test)  # eval mode: BN's running statistics
                accuracy[norm].append(stacked.rounded(acc.tolist()))
        # The first layer's pre-activations of a freshly initialised network: what the first BN/LN would see.
        first = stacked.build_mlp(SIZES, activation="relu", init="he_normal", seed=0)[0]
        with torch.no_grad():
            features = first(data.x_train)
        spread = batch_dependence(
            features, BATCH_SIZES, probes=PROBES, draws=DRAWS, generator=torch.Generator().manual_seed(0)
        )
    return {
        "config": {"sizes": list(SIZES), "steps": STEPS, "lr": LR, "momentum": MOMENTUM, "seeds": list(SEEDS)},
        "batch_sizes": list(BATCH_SIZES),
        "test_accuracy": accuracy,  # [batch size][seed]
        "sample_spread": {norm: stacked.rounded(values) for norm, values in spread.items()},
        "probes": PROBES,
        "draws": DRAWS,
    }


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 3.5)
    ax_acc, ax_spread = fig.subplots(1, 2)
    sizes = data["batch_sizes"]
    for norm in NORMS:
        rows = data["test_accuracy"][norm]
        ax_acc.fill_between(
            sizes, [min(r) for r in rows], [max(r) for r in rows], color=style.COLORS[norm], alpha=0.2, lw=0
        )
        ax_acc.plot(
            sizes, [statistics.fmean(r) for r in rows], color=style.COLORS[norm], marker="o", ms=4, label=t(norm, lang)
        )
        ax_spread.plot(
            sizes, data["sample_spread"][norm], color=style.COLORS[norm], marker="o", ms=4, label=t(norm, lang)
        )
    ax_acc.fill_between([], [], [], color=style.PALETTE["grey"], alpha=0.3, lw=0, label=t("seed_range", lang))
    ax_acc.set(
        xscale="log",
        xlabel=t("batch_size", lang),
        ylabel=t("test_accuracy_eval", lang),
        title=t("after_n_steps", lang).format(data["config"]["steps"]),
        ylim=(0, 1.02),
    )
    ax_spread.set(
        xscale="log",
        xlabel=t("batch_size", lang),
        ylabel=t("sample_spread", lang),
        title=t("batch_dependence", lang),
        ylim=(-0.03, None),
    )
    for ax in (ax_acc, ax_spread):
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.minorticks_off()
    ax_acc.legend(loc="lower right")
    ax_spread.legend(loc="upper right")
    return fig


def check(data: dict) -> None:
    sizes = data["batch_sizes"]
    mean = {norm: [statistics.fmean(r) for r in data["test_accuracy"][norm]] for norm in NORMS}
    assert mean["layernorm"][0] > mean["batchnorm"][0] + 0.25, (
        "at mini-batch size 2 BN (eval mode) is far less accurate than LN"
    )
    assert mean["batchnorm"][0] < 0.5, "at mini-batch size 2 BN's running statistics do not fit: accuracy < 50 %"
    large = [k for k, b in enumerate(sizes) if b >= 32]
    assert all(abs(mean["batchnorm"][k] - mean["layernorm"][k]) < 0.03 for k in large), (
        "from mini-batch size 32 on BN and LN are within 3 points of each other"
    )
    bn, ln = data["sample_spread"]["batchnorm"], data["sample_spread"]["layernorm"]
    assert all(v < 1e-6 for v in ln), "LN's output for a sample does not depend on the rest of its mini-batch"
    assert all(a > b for a, b in zip(bn, bn[1:], strict=False)), "BN's dependence on the batch shrinks as it grows"
    assert bn[0] > 0.5 > 0.12 > bn[-1], "at B = 2 a sample's BN output varies by > 0.5 σ across batches, at 256 < 0.12"
    scaled = [v * math.sqrt(b) for v, b in zip(bn, sizes, strict=True)]
    middle = statistics.median(scaled)
    assert all(0.7 * middle < s < 1.3 * middle for s in scaled), "BN's batch dependence falls like 1/√B"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
