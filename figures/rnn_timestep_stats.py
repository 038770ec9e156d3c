"""A tanh RNN reading digits row by row: per-time-step statistics of its pre-activations, and what LayerNorm uses."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gradnotes.engine.nets import threads
from gradnotes.experiments import bn_digits as experiments, stacked as train
from gradnotes.site import style
from gradnotes.site.labels import t

SEEDS = (0, 1, 2)
HIDDEN = 64
STEPS = 100
LEVELS = (10, 50, 90)
COLORS = {"batchnorm": style.PALETTE["blue"], "layernorm": style.PALETTE["green"]}


def compute() -> dict:
    """Train 3 RNNs (rows as 8 time steps), rebuild a_t from nn.RNN's outputs, summarise per step over units/samples."""
    data = train.load_digits("figure rnn_timestep_stats")
    x = data.pixels_train.view(-1, 8, 8)  # (images, time steps = rows, 8 pixels)
    shift, ratio, sigma, ln_mean, ln_std, errors, accuracy = [], [], [], [], [], [], []
    with threads(1):
        for seed in SEEDS:
            rnn, head, _ = experiments.train_row_rnn(data, hidden=HIDDEN, steps=STEPS, seed=seed)
            with torch.no_grad():
                a, h = experiments.rnn_preactivations(rnn, x)  # (images, T, hidden)
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
        return [train.rounded(row) for row in np.percentile(pooled, LEVELS, axis=1).T.tolist()]

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
        "ln_output_std_min": train.rounded(std_of_ln.min(0).tolist()),
        "ln_output_std_max": train.rounded(std_of_ln.max(0).tolist()),
        "ln_output_abs_mean_max": float(np.max(ln_mean)),
        "reconstruction_error": max(errors),
        "test_accuracy": accuracy,
    }


def _band(ax, steps: list[int], rows: list[list[float]], color: str, label: str) -> None:
    ax.fill_between(steps, [r[0] for r in rows], [r[2] for r in rows], color=color, alpha=0.2, lw=0)
    ax.plot(steps, [r[1] for r in rows], color=color, marker="o", ms=4, label=label)


def draw(data: dict, lang: str):
    fig = style.figure(style.PAGE_WIDTH, 3.9)
    ax_mean, ax_std, ax_ln = fig.subplots(1, 3)
    steps = data["time_steps"]
    one_set = {"color": style.PALETTE["black"], "linestyle": ":", "linewidth": 1.2}
    _band(ax_mean, steps, data["bn_mean_shift"], COLORS["batchnorm"], t("median_over_units", lang))
    ax_mean.axhline(0.0, label=t("one_set_of_statistics", lang), **one_set)
    _band(ax_std, steps, data["bn_std_ratio"], COLORS["batchnorm"], t("median_over_units", lang))
    ax_std.axhline(1.0, **one_set)
    _band(ax_ln, steps, data["ln_sigma"], COLORS["layernorm"], t("median_over_samples", lang))
    ax_ln.plot(
        steps, data["ln_output_std_max"], color=style.PALETTE["black"], linestyle="--", label=t("ln_output_std", lang)
    )
    ax_mean.set(ylabel=t("bn_mean_shift", lang), title=t("bn_mean_title", lang))
    ax_std.set(ylabel=t("bn_std_ratio", lang), title=t("bn_std_title", lang), ylim=(0, None))
    ax_ln.set(ylabel="σ", title=t("ln_sigma_title", lang), ylim=(0, None))
    for ax in (ax_mean, ax_std, ax_ln):
        ax.set(xlabel=t("time_step", lang), xticks=steps)
    ax_mean.fill_between([], [], [], color=style.PALETTE["grey"], alpha=0.3, lw=0, label=t("band_10_90", lang))
    # One legend for the three panels, below them: the bands fill the panels.
    handles = ax_mean.get_legend_handles_labels()[0] + ax_ln.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8.5)
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
