"""Wall-time cost of BatchNorm/LayerNorm in training and inference, and BN folded into the preceding Linear layer."""

from __future__ import annotations

import torch
from torch import nn

from gradnotes.engine.nets import threads
from gradnotes.experiments import fold, norm_cost, stacked
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "training": {"ko": "훈련 한 단계", "en": "one training step (forward, backward, update)"},
    "inference": {"ko": "추론 한 번", "en": "inference (forward pass)"},
    "relative_time": {"ko": "정규화 없음 대비 CPU 시간", "en": "CPU time relative to no normalization"},
    "small_mlp": {"ko": "작은 MLP", "en": "small MLP"},
    "large_mlp": {"ko": "큰 MLP", "en": "large MLP"},
    "mlp_shape": {"ko": "{}: 은닉층 {}개, 너비 {}, 배치 {}", "en": "{}: {} hidden layers, width {}, batch {}"},
    "measured_on": {"ko": "측정 (gradnotes bench-norm)", "en": "measured (gradnotes bench-norm)"},
    "cores": {"ko": "코어", "en": "logical cores"},
    "threads": {"ko": "스레드", "en": "thread(s)"},
    "iqr": {"ko": "사분위 범위", "en": "interquartile range"},
    "wall_time_ratio": {"ko": "벽시계 시간 (중앙값)", "en": "wall time (median)"},
    "bn_eval": {"ko": "배치 정규화 (평가 모드)", "en": "BatchNorm (eval mode)"},
    "bn_folded": {"ko": "배치 정규화 (접어 넣음)", "en": "BatchNorm folded"},
}
t = translator(LABELS)

TRAIN, INFER = norm_cost.TRAIN_VARIANTS, norm_cost.INFER_VARIANTS
LABEL = {"none": "none", "batchnorm": "batchnorm", "layernorm": "layernorm"}
INFER_LABEL = {"none": "none", "batchnorm": "bn_eval", "batchnorm_folded": "bn_folded", "layernorm": "layernorm"}
FOLD_SIZES = (64, 128, 128, 128, 128, 10)


def compute() -> dict:
    """The committed wall times, plus a deterministic check that folding BN changes no output."""
    document = norm_cost.load_measurement()  # figures/data/bn_cost.json, schema-checked
    with threads(1):
        model = stacked.build_mlp(FOLD_SIZES, activation="relu", norm="batchnorm", seed=0)
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
        folded = fold.fold_batchnorm(model)
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
    """Per size, one bar per variant: the median per-round ratio of the compute thread's CPU time to no
    normalisation, its quartiles as whiskers, the absolute median inside the bar, and the wall-time ratio as ◆."""
    sizes = _sizes(results)
    width = 0.8 / len(variants)
    for k, variant in enumerate(variants):
        for s, size in enumerate(sizes):
            cell = results[size][phase][variant]
            ratio = cell["cpu_ratio_to_none"]
            x = s + (k - (len(variants) - 1) / 2) * width
            label = t(labels[variant], lang) if s == 0 else None
            bar = ax.bar(x, ratio["median"], width * 0.92, color=style.COLORS[variant], label=label)
            whiskers = [[ratio["median"] - ratio["q25"]], [ratio["q75"] - ratio["median"]]]
            ax.errorbar(x, ratio["median"], yerr=whiskers, color=style.PALETTE["black"], capsize=2, lw=1)
            wall = cell["wall_ratio_to_none"]["median"]
            ax.plot(x, wall, "D", color="white", mec=style.PALETTE["black"], ms=4, zorder=4)
            # The absolute median inside the bar: the bar heights are relative.
            text = f"{cell['cpu_ms']['median']:.2g}\nms"
            ax.bar_label(bar, labels=[text], fontsize=7, label_type="center", color="white")
    ax.axhline(1.0, color=style.PALETTE["black"], lw=0.8)
    ax.set_xticks(range(len(sizes)), [t(f"{size}_mlp", lang) for size in sizes])
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
        max(r[phase][v]["cpu_ratio_to_none"]["q75"], r[phase][v]["wall_ratio_to_none"]["median"])
        for r in results.values()
        for phase, variants in (("train", TRAIN), ("inference", INFER))
        for v in variants
    )
    ax_train.set_ylim(0, top * 1.3)
    ax_infer.tick_params(labelleft=True)
    ax_train.errorbar([], [], yerr=[], color=style.PALETTE["black"], capsize=2, lw=1, label=t("iqr", lang))
    ax_train.plot([], [], "D", color="white", mec=style.PALETTE["black"], ms=4, label=t("wall_time_ratio", lang))
    generic = {t("iqr", lang), t("wall_time_ratio", lang)}
    for ax in (ax_train, ax_infer):
        handles, labels = ax.get_legend_handles_labels()
        order = sorted(range(len(labels)), key=lambda k: labels[k] in generic)  # the variants first
        ax.legend([handles[k] for k in order], [labels[k] for k in order], loc="upper left", fontsize=8.5, ncols=2)
        ax.grid(axis="x", visible=False)
    machine = data["measured"]["machine"]
    shapes = "; ".join(
        t("mlp_shape", lang).format(
            t(f"{name}_mlp", lang), r["size"]["hidden_layers"], r["size"]["width"], r["size"]["batch"]
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
        train_cost, infer = result["train"], result["inference"]
        ratio = {v: infer[v]["cpu_ratio_to_none"]["median"] for v in INFER}
        assert train_cost["batchnorm"]["cpu_ratio_to_none"]["median"] > 1.05, (
            f"{name}: a training step with BN costs over 5 % more CPU time than without"
        )
        assert 0.9 < ratio["batchnorm_folded"] < 1.1, f"{name}: folded BN at inference costs the same as no BN (±10 %)"
        assert ratio["batchnorm"] > ratio["batchnorm_folded"], f"{name}: folding removes BN's inference cost"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
