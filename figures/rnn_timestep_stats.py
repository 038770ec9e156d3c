"""A tanh RNN reading digits row by row: per-time-step statistics of its pre-activations, and what LayerNorm uses."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gradnotes.engine.nets import threads
from gradnotes.errors import UserError
from gradnotes.experiments import digits, stacked
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "time_step": {"ko": "시점 t", "en": "time step t"},
    "bn_mean_shift": {"ko": "(μₜ − μ) / σ", "en": "(μₜ − μ) / σ"},
    "bn_std_ratio": {"ko": "σₜ / σ", "en": "σₜ / σ"},
    "bn_mean_title": {"ko": "시점별 배치 평균 (유닛마다)", "en": "batch mean per step (per unit)"},
    "bn_std_title": {"ko": "시점별 배치 표준편차 (유닛마다)", "en": "batch std per step (per unit)"},
    "ln_sigma_title": {"ko": "층 정규화의 σ (샘플·시점마다)", "en": "LayerNorm's σ (per sample, step)"},
    "one_set_of_statistics": {"ko": "모든 시점에 통계량 한 벌", "en": "one set for all steps"},
    "median_over_units": {"ko": "유닛 중앙값", "en": "median over units"},
    "median_over_samples": {"ko": "샘플 중앙값", "en": "median over samples"},
    "band_10_90": {"ko": "10–90번째 백분위 범위", "en": "10th–90th percentile range"},
    "ln_output_std": {"ko": "층 정규화 출력의 σ", "en": "σ of the LayerNorm output"},
}
t = translator(LABELS)

SEEDS = (0, 1, 2)
HIDDEN = 64
STEPS = 100
LEVELS = (10, 50, 90)


def rnn_preactivations(rnn: nn.RNN, x: Tensor) -> tuple[Tensor, Tensor]:
    """(a, h) of a one-layer, batch-first ``nn.RNN``: a_t = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh, h_t = φ(a_t).

    ``h`` is the module's own output; ``a`` is rebuilt from it and the module's weights (h_0 = 0).
    """
    if rnn.num_layers != 1 or not rnn.batch_first or rnn.bidirectional:
        raise UserError("rnn_preactivations needs a one-layer, batch-first, unidirectional nn.RNN")
    h, _ = rnn(x)
    previous = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
    a = F.linear(x, rnn.weight_ih_l0, rnn.bias_ih_l0) + F.linear(previous, rnn.weight_hh_l0, rnn.bias_hh_l0)
    return a, h


def train_row_rnn(
    data: digits.Digits, *, hidden: int = 64, steps: int = 150, batch_size: int = 64, lr: float = 0.1, seed: int = 0
) -> tuple[nn.RNN, nn.Linear, list[float]]:
    """A tanh ``nn.RNN`` reading each digit row by row (8 time steps of 8 pixels), classified from the last state."""
    generator = torch.Generator().manual_seed(seed)
    rnn = nn.RNN(8, hidden, batch_first=True, nonlinearity="tanh")
    head = nn.Linear(hidden, 10)
    bound = hidden**-0.5  # nn.RNN's own default, U(±1/√hidden), drawn from our generator
    with torch.no_grad():
        for p in [*rnn.parameters(), *head.parameters()]:
            nn.init.uniform_(p, -bound, bound, generator=generator)
    x = data.pixels_train.view(-1, 8, 8)
    optimizer = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=lr, momentum=0.9, foreach=True)
    sampler = stacked.BatchSampler(len(x), batch_size, [seed])
    losses = []
    for _ in range(steps):
        index = sampler.next()[0]
        h, _ = rnn(x[index])
        loss = F.cross_entropy(head(h[:, -1]), data.y_train[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return rnn, head, losses


def compute() -> dict:
    """Train 3 RNNs (rows as 8 time steps), rebuild a_t from nn.RNN's outputs, summarise per step over units/samples."""
    data = digits.load_digits("figure rnn_timestep_stats")
    x = data.pixels_train.view(-1, 8, 8)  # (images, time steps = rows, 8 pixels)
    shift, ratio, sigma, ln_mean, ln_std, errors, accuracy = [], [], [], [], [], [], []
    with threads(1):
        for seed in SEEDS:
            rnn, head, _ = train_row_rnn(data, hidden=HIDDEN, steps=STEPS, seed=seed)
            with torch.no_grad():
                a, h = rnn_preactivations(rnn, x)  # (images, T, hidden)
                errors.append(float((torch.tanh(a) - h).abs().max()))
                h_test, _ = rnn(data.pixels_test.view(-1, 8, 8))
                accuracy.append(float((head(h_test[:, -1]).argmax(1) == data.y_test).float().mean()))
                # What BatchNorm would compute per unit: batch statistics at each step vs one set over all steps.
                overall_mean, overall_std = a.mean((0, 1)), a.std((0, 1))
                shift.append(((a.mean(0) - overall_mean) / overall_std).numpy())  # (T, hidden)
                ratio.append((a.std(0) / overall_std).numpy())
                # What LayerNorm computes: per sample and step, over the hidden units; then its output.
                sigma.append(a.std(2, unbiased=False).T.numpy())  # (T, images)
                out = nn.LayerNorm(HIDDEN, elementwise_affine=False)(a)
                ln_mean.append(out.mean(2).abs().max(0).values.numpy())
                ln_std.append(out.std(2, unbiased=False).numpy())  # (images, T)

    def per_step(values: list[np.ndarray]) -> list[list[float]]:
        pooled = np.concatenate(values, axis=1)  # (T, units or samples of every seed)
        return [stacked.rounded(row) for row in np.percentile(pooled, LEVELS, axis=1).T.tolist()]

    std_of_ln = np.concatenate(ln_std, axis=0)
    return {
        "seeds": list(SEEDS),
        "hidden": HIDDEN,
        "steps": STEPS,
        "levels": list(LEVELS),
        "time_steps": list(range(1, x.shape[1] + 1)),
        "bn_mean_shift": per_step(shift),  # [t][level]
        "bn_std_ratio": per_step(ratio),
        "ln_sigma": per_step(sigma),
        "ln_output_std_min": stacked.rounded(std_of_ln.min(0).tolist()),
        "ln_output_std_max": stacked.rounded(std_of_ln.max(0).tolist()),
        "ln_output_abs_mean_max": float(np.max(ln_mean)),
        "reconstruction_error": max(errors),
        "test_accuracy": accuracy,
    }


def _band(ax, steps: list[int], rows: list[list[float]], color: str, label: str) -> None:
    ax.fill_between(steps, [r[0] for r in rows], [r[2] for r in rows], color=color, alpha=0.2, lw=0)
    ax.plot(steps, [r[1] for r in rows], color=color, marker="o", ms=4, label=label)


def draw(data: dict, lang: str):
    # Three panels in a row at the body width (the page describes them left to right), the legend below them:
    # drawn at the width it is shown at, every label stays legible.
    fig = style.figure(style.BODY_WIDTH, 4.0)
    ax_mean, ax_std, ax_ln = fig.subplots(1, 3)
    steps = data["time_steps"]
    one_set = {"color": style.PALETTE["black"], "linestyle": ":", "linewidth": 1.2}
    _band(ax_mean, steps, data["bn_mean_shift"], style.COLORS["batchnorm"], t("median_over_units", lang))
    ax_mean.axhline(0.0, label=t("one_set_of_statistics", lang), **one_set)
    _band(ax_std, steps, data["bn_std_ratio"], style.COLORS["batchnorm"], t("median_over_units", lang))
    ax_std.axhline(1.0, **one_set)
    _band(ax_ln, steps, data["ln_sigma"], style.COLORS["layernorm"], t("median_over_samples", lang))
    ax_ln.plot(
        steps, data["ln_output_std_max"], color=style.PALETTE["black"], linestyle="--", label=t("ln_output_std", lang)
    )
    ax_mean.set(ylabel=t("bn_mean_shift", lang), title=t("bn_mean_title", lang))
    ax_std.set(ylabel=t("bn_std_ratio", lang), title=t("bn_std_title", lang), ylim=(0, None))
    ax_ln.set(ylabel="σ", title=t("ln_sigma_title", lang), ylim=(0, None))
    for ax in (ax_mean, ax_std, ax_ln):
        ax.set(xlabel=t("time_step", lang), xticks=steps)
    ax_mean.fill_between([], [], [], color=style.PALETTE["grey"], alpha=0.3, lw=0, label=t("band_10_90", lang))
    for ax in (ax_mean, ax_std, ax_ln):  # the titles are long for a third of the body width: one line per part
        ax.set_title(ax.get_title().replace(" (", "\n("), fontsize=10)
    # One legend for the three panels, below them: the bands fill the panels.
    handles = ax_mean.get_legend_handles_labels()[0] + ax_ln.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncols=2)
    return fig


def check(data: dict) -> None:
    assert data["reconstruction_error"] < 1e-5, "tanh(a_t) reproduces nn.RNN's hidden states: a_t is rebuilt exactly"
    assert min(data["test_accuracy"]) > 0.85, "the RNNs really learned the task (test accuracy > 85 %)"
    ratio, shift = data["bn_std_ratio"], data["bn_mean_shift"]
    assert ratio[0][1] < 0.5 and ratio[-1][1] > 0.9, (
        "per-step batch std differs from the all-steps std: below ½ at t = 1, near 1 at the last step (median unit)"
    )
    assert max(r[2] for r in ratio) > 1.1 and min(r[0] for r in ratio) < 0.3, "no single σ fits every step"
    assert max(max(abs(r[0]), abs(r[2])) for r in shift) > 0.4, (
        "a tenth of the units have per-step batch means ≥ 0.4 σ away from their all-steps mean at some step"
    )
    sigma = data["ln_sigma"]
    assert max(r[1] for r in sigma) > 2 * sigma[0][1], "the per-sample σ LayerNorm divides by changes with the step"
    assert data["ln_output_abs_mean_max"] < 1e-5, "LayerNorm's output has mean 0 for every sample at every step"
    spans = zip(data["ln_output_std_min"], data["ln_output_std_max"], strict=True)
    assert all(0.99 < lo and hi < 1.0 + 1e-5 for lo, hi in spans), (
        "LayerNorm's output has σ = 1 for every sample at every step (ε makes it a hair below 1)"
    )


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
