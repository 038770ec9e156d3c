"""Wall-time cost of BatchNorm/LayerNorm in training and inference, and BN folded into the preceding Linear layer."""

from __future__ import annotations

import json

import torch
from torch import nn

from gradnotes import experiments, paths, style, train
from gradnotes.errors import UserError
from gradnotes.i18n import t

TRAIN = ("none", "batchnorm", "layernorm")
INFER = ("none", "batchnorm", "batchnorm_folded", "layernorm")
LABEL = {"none": "none", "batchnorm": "batchnorm", "layernorm": "layernorm"}
INFER_LABEL = {"none": "none", "batchnorm": "bn_eval", "batchnorm_folded": "bn_folded", "layernorm": "layernorm"}
COLORS = {
    "none": style.PALETTE["grey"],
    "batchnorm": style.PALETTE["blue"],
    "batchnorm_folded": style.PALETTE["sky"],
    "layernorm": style.PALETTE["green"],
}
FOLD_SIZES = (64, 128, 128, 128, 128, 10)


def _measurement() -> dict:
    path = paths.figures_dir() / "data" / "bn_cost.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} is missing: run `gradnotes bench-norm` to measure it") from None
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON ({exc}): run `gradnotes bench-norm` again") from None
    try:
        for result in document["results"].values():
            for phase, variants in (("train", TRAIN), ("inference", INFER)):
                for variant in variants:
                    float(result[phase][variant]["median_ms"])
        document["machine"]["cpu"]
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise UserError(f"{path} lacks {exc}: run `gradnotes bench-norm` again") from None
    return document


def compute() -> dict:
    """The committed wall times, plus a deterministic check that folding BN changes no output."""
    document = _measurement()
    with train.torch_threads(1):
        model = train.build_mlp(FOLD_SIZES, activation="relu", norm="batchnorm", seed=0)
        generator = torch.Generator().manual_seed(0)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        model.train()
        for _ in range(30):  # non-trivial running statistics and γ, β
            x = torch.randn(64, FOLD_SIZES[0], generator=generator) * 2 + 0.5
            loss = nn.functional.cross_entropy(model(x), torch.randint(0, 10, (64,), generator=generator))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        folded = experiments.fold_batchnorm(model)
        x = torch.randn(256, FOLD_SIZES[0], generator=generator) * 2 + 0.5
        with torch.no_grad():
            reference, output = model(x), folded(x)
    return {
        "measured": document,
        "fold_check": {
            "max_abs_diff": float((output - reference).abs().max()),
            "output_scale": float(reference.abs().max()),
            "batchnorm_layers_before": sum(isinstance(m, nn.BatchNorm1d) for m in model),
            "batchnorm_layers_after": sum(isinstance(m, nn.BatchNorm1d) for m in folded),
            "linear_layers_after": sum(isinstance(m, nn.Linear) for m in folded),
        },
    }


def _sizes(results: dict) -> list[str]:
    """Size names in the benchmark's order (small, then large), whatever order the JSON keeps them in."""
    return sorted(results, key=lambda name: results[name]["size"]["width"] * results[name]["size"]["n_in"])


def _bars(ax, results: dict, phase: str, variants: tuple[str, ...], labels: dict[str, str], lang: str) -> None:
    sizes = _sizes(results)
    width = 0.8 / len(variants)
    for k, variant in enumerate(variants):
        for s, size in enumerate(sizes):
            base = results[size][phase]["none"]["median_ms"]
            cell = results[size][phase][variant]
            mid = cell["median_ms"] / base
            x = s + (k - (len(variants) - 1) / 2) * width
            bar = ax.bar(
                x, mid, width * 0.92, color=COLORS[variant], label=t(labels[variant], lang) if s == 0 else None
            )
            ax.errorbar(
                x,
                mid,
                yerr=[[mid - cell["q25_ms"] / base], [cell["q75_ms"] / base - mid]],
                color=style.PALETTE["black"],
                capsize=2,
                lw=1,
            )
            # The absolute median inside the bar's foot: the bar heights are relative.
            ax.bar_label(bar, labels=[f"{cell['median_ms']:.2g}\nms"], fontsize=7, label_type="center", color="white")
    ax.axhline(1.0, color=style.PALETTE["black"], lw=0.8)
    names = [t(f"{size}_mlp", lang) for size in sizes]
    ax.set_xticks(range(len(sizes)), names)
    ax.set_ylabel(t("relative_time", lang))


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 4.0)
    ax_train, ax_infer = fig.subplots(1, 2, sharey=True)
    results = data["measured"]["results"]
    _bars(ax_train, results, "train", TRAIN, LABEL, lang)
    _bars(ax_infer, results, "inference", INFER, INFER_LABEL, lang)
    ax_train.set_title(t("training", lang))
    ax_infer.set_title(t("inference", lang))
    top = max(
        r[phase][v]["q75_ms"] / r[phase]["none"]["median_ms"]
        for r in results.values()
        for phase, variants in (("train", TRAIN), ("inference", INFER))
        for v in variants
    )
    ax_train.set_ylim(0, top * 1.25)
    ax_infer.tick_params(labelleft=True)
    ax_train.errorbar([], [], yerr=[], color=style.PALETTE["black"], capsize=2, lw=1, label=t("iqr", lang))
    for ax in (ax_train, ax_infer):
        ax.legend(loc="upper left", fontsize=8.5, ncols=2)
        ax.grid(axis="x", visible=False)
    machine = data["measured"]["machine"]
    shapes = "; ".join(
        t("mlp_shape", lang).format(
            t(f"{name}_mlp", lang), r["size"]["width"], r["size"]["hidden_layers"], r["size"]["batch"]
        )
        for name, r in ((name, results[name]) for name in _sizes(results))
    )
    note = (
        f"{t('measured_on', lang)}: {machine['cpu']}, {machine['logical_cores']} {t('cores', lang)}, "
        f"torch {machine['torch']}, {data['measured']['settings']['threads']} {t('threads', lang)}, {machine['date']}\n"
        f"{shapes}"
    )
    fig.text(0.5, 0.0, note, ha="center", va="bottom", fontsize=7.5, color="#555555", linespacing=1.5)
    fig.get_layout_engine().set(rect=(0, 0.08, 1, 0.92))
    return fig


def check(data: dict) -> None:
    fold = data["fold_check"]
    assert fold["batchnorm_layers_before"] > 0 == fold["batchnorm_layers_after"], "folding removes every BatchNorm1d"
    assert fold["linear_layers_after"] == len(FOLD_SIZES) - 1, "folding keeps one Linear per layer"
    assert fold["max_abs_diff"] < 1e-5 * max(1.0, fold["output_scale"]), (
        "the folded network's outputs equal the eval-mode BN network's (fuse_linear_bn_eval)"
    )
    for name, result in data["measured"]["results"].items():
        assert result["fold_max_abs_diff"] < 1e-4, f"{name}: the benchmarked folded model computes the same outputs"
        train_times, infer = result["train"], result["inference"]
        assert train_times["batchnorm"]["median_ms"] > train_times["none"]["median_ms"], (
            f"{name}: a training step with BN takes longer than without (median)"
        )
        folded, none = infer["batchnorm_folded"], infer["none"]
        overlap = folded["q25_ms"] <= none["q75_ms"] and none["q25_ms"] <= folded["q75_ms"]
        assert overlap or folded["median_ms"] <= none["median_ms"], (
            f"{name}: folded BN at inference is as fast as no BN (interquartile ranges overlap)"
        )


if __name__ == "__main__":
    from gradnotes.figures import main_for

    main_for(__file__)
