"""A tanh RNN with spectral radius 2: gradient norm grows exponentially with length; clip_grad_norm_ caps it."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gradnotes.engine.nets import threads
from gradnotes.experiments import stacked
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "sequence_length": {"ko": "시퀀스 길이", "en": "sequence length"},
    "grad_norm_total": {"ko": "전체 기울기 노름 ‖g‖", "en": "total gradient norm ‖g‖"},
    "spectral_radius_n": {"ko": "스펙트럼 반경 ρ = {}", "en": "spectral radius ρ = {}"},
    "before_clipping": {
        "ko": "클리핑 전 (clip_grad_norm_ 반환값)",
        "en": "before clipping (returned by clip_grad_norm_)",
    },
    "after_clipping": {"ko": "클리핑 후", "en": "after clipping"},
    "clip_threshold": {"ko": "임계값", "en": "threshold"},
    "exploding_title": {"ko": "기울기 폭주", "en": "exploding gradient"},
    "clipping_title": {"ko": "기울기 클리핑", "en": "gradient clipping"},
}
t = translator(LABELS)

RADII = (0.9, 2.0)  # spectral radius of the recurrent matrix: below 1 and above 1
SEEDS = (0, 1, 2, 3, 4)
HIDDEN = 32
INPUTS = 4
BATCH = 16
LENGTHS = tuple(range(5, 101, 5))
THRESHOLD = 1.0  # clip_grad_norm_'s max_norm
RADIUS_COLORS = {0.9: style.PALETTE["green"], 2.0: style.PALETTE["vermillion"]}  # radii are no activation/init/norm


def recurrent_net(
    *, hidden: int, inputs: int, spectral_radius: float, seed: int
) -> tuple[nn.RNN, nn.Linear, torch.Generator]:
    """A tanh ``nn.RNN`` whose recurrent matrix is Gaussian, rescaled to the given spectral radius, plus a readout."""
    generator = torch.Generator().manual_seed(seed)
    rnn = nn.RNN(inputs, hidden, batch_first=True, nonlinearity="tanh")
    head = nn.Linear(hidden, 1)
    with torch.no_grad():
        for p in [*rnn.parameters(), *head.parameters()]:
            nn.init.uniform_(p, -(hidden**-0.5), hidden**-0.5, generator=generator)
        nn.init.normal_(rnn.weight_hh_l0, 0.0, hidden**-0.5, generator=generator)
        radius = torch.linalg.eigvals(rnn.weight_hh_l0.double()).abs().max()
        rnn.weight_hh_l0.mul_(spectral_radius / radius.item())
    return rnn, head, generator


def clip_gradients(parameters: Sequence[nn.Parameter], max_norm: float) -> dict[str, float]:
    """``clip_grad_norm_`` on ``parameters``, with the norms before and after measured independently, and cos(g, g′)."""
    parameters = list(parameters)
    before = torch.cat([p.grad.flatten() for p in parameters]).double()
    returned = torch.nn.utils.clip_grad_norm_(parameters, max_norm=max_norm)
    after = torch.cat([p.grad.flatten() for p in parameters]).double()
    finite = bool(torch.isfinite(before).all())
    return {
        "returned_norm": float(returned),
        "norm_before": float(before.norm()),
        "norm_after": float(after.norm()),
        "cosine": float(F.cosine_similarity(before, after, dim=0)) if finite else float("nan"),
    }


def compute() -> dict:
    """Per radius and seed: one random RNN; for every length, the loss gradient of all parameters, then clipped."""
    runs: dict[str, list[dict[str, list[float]]]] = {}
    with threads(1):
        for radius in RADII:
            runs[str(radius)] = []
            for seed in SEEDS:
                rnn, head, generator = recurrent_net(hidden=HIDDEN, inputs=INPUTS, spectral_radius=radius, seed=seed)
                x = torch.randn(BATCH, max(LENGTHS), INPUTS, generator=generator)
                target = torch.randn(BATCH, 1, generator=generator)
                parameters = [*rnn.parameters(), *head.parameters()]
                record: dict[str, list[float]] = {
                    "returned_norm": [],
                    "norm_before": [],
                    "norm_after": [],
                    "cosine": [],
                }
                for length in LENGTHS:
                    for p in parameters:
                        p.grad = None
                    h, _ = rnn(x[:, :length])
                    F.mse_loss(head(h[:, -1]), target).backward()  # the loss sees only the last hidden state
                    for key, value in clip_gradients(parameters, THRESHOLD).items():
                        record[key].append(value)
                runs[str(radius)].append({key: stacked.rounded(values) for key, values in record.items()})
    return {
        "radii": list(RADII),
        "seeds": list(SEEDS),
        "lengths": list(LENGTHS),
        "hidden": HIDDEN,
        "threshold": THRESHOLD,
        "runs": runs,  # [radius][seed][key][length]
    }


def _across_seeds(data: dict, radius: float, key: str) -> tuple[list[float], list[float], list[float]]:
    """(median, min, max) over seeds at every length."""
    columns = list(zip(*(run[key] for run in data["runs"][str(radius)]), strict=True))
    return [statistics.median(c) for c in columns], [min(c) for c in columns], [max(c) for c in columns]


def draw(data: dict, lang: str):
    # Two panels at the body width, one legend below them: legible at the page's width.
    fig = style.figure(style.BODY_WIDTH, 4.4)
    ax_grow, ax_clip = fig.subplots(1, 2, sharey=True)
    lengths = data["lengths"]
    for radius in data["radii"]:
        mid, low, high = _across_seeds(data, radius, "returned_norm")
        ax_grow.fill_between(lengths, low, high, color=RADIUS_COLORS[radius], alpha=0.2, lw=0)
        label = t("spectral_radius_n", lang).format(f"{radius:g}")
        ax_grow.plot(lengths, mid, color=RADIUS_COLORS[radius], marker="o", ms=3, label=label)
    ax_grow.fill_between([], [], [], color=style.PALETTE["grey"], alpha=0.3, lw=0, label=t("seed_range", lang))
    radius = max(data["radii"])
    for key, color, label in (
        ("returned_norm", RADIUS_COLORS[radius], "before_clipping"),
        ("norm_after", style.PALETTE["blue"], "after_clipping"),
    ):
        mid, low, high = _across_seeds(data, radius, key)
        ax_clip.fill_between(lengths, low, high, color=color, alpha=0.2, lw=0)
        ax_clip.plot(lengths, mid, color=color, marker="o", ms=3, label=t(label, lang))
    ax_clip.axhline(
        data["threshold"], color=style.PALETTE["black"], linestyle=":", lw=1.2, label=t("clip_threshold", lang)
    )
    ax_grow.set(yscale="log", xlabel=t("sequence_length", lang), ylabel=t("grad_norm_total", lang))
    ax_clip.set(yscale="log", xlabel=t("sequence_length", lang))
    ax_clip.set_title(f"{t('clipping_title', lang)}, ρ = {radius:g}")
    ax_grow.set_title(t("exploding_title", lang))
    for ax in (ax_grow, ax_clip):
        ax.minorticks_off()
    handles, labels = ax_grow.get_legend_handles_labels()
    more, more_labels = ax_clip.get_legend_handles_labels()
    fig.legend(handles + more, labels + more_labels, loc="outside lower center", ncols=2)
    return fig


def check(data: dict) -> None:
    lengths, threshold = data["lengths"], data["threshold"]
    big, small = max(data["radii"]), min(data["radii"])
    assert small < 1 < big, "one recurrent matrix with spectral radius below 1 and one above"
    mid, _, _ = _across_seeds(data, big, "returned_norm")
    growth = mid[-1] / mid[0]
    assert 3.5e3 <= growth < 4.5e3, (
        f"with ρ = {big:g} the median norm grows ≈ 4000× from length 5 to 100 ({growth:.0f}×)"
    )
    # Exponential: log‖g‖ rises linearly in the length (least-squares slope and fit quality on the median).
    logs = [math.log10(v) for v in mid]
    slope = statistics.linear_regression(lengths, logs).slope
    assert slope > 0.02, f"with ρ = {big:g} log₁₀‖g‖ rises by > 0.02 per time step (is {slope:.3f})"
    assert statistics.correlation(lengths, logs) > 0.95, "the growth is exponential: log‖g‖ is close to linear in T"
    calm, _, _ = _across_seeds(data, small, "returned_norm")
    assert max(calm) < 1.3 * min(calm), (
        f"with ρ = {small:g} the median norm stays within 1.3× ({max(calm) / min(calm):.2f})"
    )
    for radius in data["radii"]:
        for run in data["runs"][str(radius)]:
            for ret, before, after, cos in zip(
                run["returned_norm"], run["norm_before"], run["norm_after"], run["cosine"], strict=True
            ):
                assert math.isclose(ret, before, rel_tol=1e-4), "clip_grad_norm_ returns the total norm before clipping"
                assert after <= threshold * (1 + 1e-4), "after clip_grad_norm_ the total norm is at most the threshold"
                if before > threshold:
                    assert math.isclose(after, threshold, rel_tol=1e-4), "a norm above the threshold is cut to it"
                else:
                    assert math.isclose(after, before, rel_tol=1e-4), "a norm below the threshold is left alone"
                assert cos > 1 - 1e-5, "clipping rescales the gradient: its direction is unchanged"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
