"""‖∂L/∂h_t‖ against the distance to the loss on pixel-by-pixel digits: tanh RNN, LSTM (forget bias 0, 1), GRU, IRNN."""

from __future__ import annotations

import math
import statistics

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gradnotes.engine.nets import threads
from gradnotes.experiments import digits, stacked
from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "distance_to_loss": {"ko": "손실까지의 거리 T − t (시점)", "en": "distance to the loss T − t (time steps)"},
    "relative_state_grad": {
        "ko": r"$\|\partial L/\partial h_t\|\,/\,\|\partial L/\partial h_T\|$",
        "en": r"$\|\partial L/\partial h_t\|\,/\,\|\partial L/\partial h_T\|$",
    },
    "cells_title": {"ko": "순환 셀과 초기화", "en": "recurrent cells and their init"},
    # Korean cannot go through mathtext (its fonts have no Hangul): Unicode subscripts where a label mixes the two.
    "bound_title": {"ko": "tanh RNN, Wₕₕ = s·Q (Q는 직교 행렬)", "en": "tanh RNN, Wₕₕ = s·Q (Q orthogonal)"},
    "tanh_rnn": {"ko": "tanh RNN (기본값)", "en": "tanh RNN (default)"},
    "lstm_bias_0": {"ko": "LSTM, 망각 게이트 편향 0", "en": "LSTM, forget-gate bias 0"},
    "lstm_bias_1": {"ko": "LSTM, 망각 게이트 편향 1", "en": "LSTM, forget-gate bias 1"},
    "gru": {"ko": "GRU (기본값)", "en": "GRU (default)"},
    "irnn": {"ko": "ReLU RNN, Wₕₕ = I (IRNN)", "en": "ReLU RNN, Wₕₕ = I (IRNN)"},
    "singular_value_n": {"ko": "s = {}", "en": "s = {}"},
    "bound_sk": {"ko": "상한 sᵏ (Pascanu 등)", "en": "bound sᵏ (Pascanu et al.)"},
}
t = translator(LABELS)

HIDDEN = 64
SEEDS = (0, 1, 2, 3, 4)
IMAGES = 360  # the held-out digits, each read one pixel per time step: T = 64
CELLS = ("tanh_rnn", "lstm_bias_0", "lstm_bias_1", "gru", "irnn")
CELL_COLORS = {  # cells are no activation, init or norm: colours of their own
    "tanh_rnn": style.PALETTE["vermillion"],
    "lstm_bias_0": style.PALETTE["sky"],
    "lstm_bias_1": style.PALETTE["blue"],
    "gru": style.PALETTE["purple"],
    "irnn": style.PALETTE["green"],
}
SCALES = (0.5, 0.9, 1.5)  # every singular value of W_hh = s·Q equals s
SCALE_COLORS = {0.5: style.PALETTE["sky"], 0.9: style.PALETTE["blue"], 1.5: style.PALETTE["vermillion"]}


def make_cell(cell: str, seed: int, scale: float | None = None) -> tuple[nn.Module, nn.Linear]:
    """A real nn.RNN / nn.LSTM / nn.GRU (1 input, HIDDEN units), PyTorch's init plus the named change; a readout."""
    generator = torch.Generator().manual_seed(seed)
    if cell in ("tanh_rnn", "irnn"):
        module = nn.RNN(1, HIDDEN, batch_first=True, nonlinearity="tanh" if cell == "tanh_rnn" else "relu")
    elif cell.startswith("lstm"):
        module = nn.LSTM(1, HIDDEN, batch_first=True)
    else:
        module = nn.GRU(1, HIDDEN, batch_first=True)
    head = nn.Linear(HIDDEN, 10)
    with torch.no_grad():
        for p in [*module.parameters(), *head.parameters()]:  # PyTorch's default U(±1/√H), from our own generator
            nn.init.uniform_(p, -(HIDDEN**-0.5), HIDDEN**-0.5, generator=generator)
        if cell.startswith("lstm"):  # gates are stacked (input, forget, cell, output); the forget gate's bias is
            forget = slice(HIDDEN, 2 * HIDDEN)  # b_ih + b_hh, so set one to the value and the other to 0
            module.bias_ih_l0[forget].fill_(float(cell[-1]))
            module.bias_hh_l0[forget].zero_()
        if cell == "irnn":  # Le et al. (2015): identity recurrent matrix, zero biases, small input weights
            module.weight_hh_l0.copy_(torch.eye(HIDDEN))
            module.bias_hh_l0.zero_()
            module.bias_ih_l0.zero_()
            nn.init.normal_(module.weight_ih_l0, 0.0, 0.001, generator=generator)
        if scale is not None:
            nn.init.orthogonal_(module.weight_hh_l0, gain=scale, generator=generator)
    return module, head


def state_gradients(module: nn.Module, head: nn.Linear, x: Tensor, y: Tensor) -> list[float]:
    """‖∂L/∂h_t‖ for t = 1…T (norm over the batch), the loss being the cross-entropy of a readout of h_T.

    The module is stepped one time step at a time with its own state passed back in, so that every h_t is a node of
    the graph whose gradient autograd reports (the whole-sequence call hides the intermediate states).
    """
    states, state = [], None
    for step in range(x.shape[1]):
        _, state = module(x[:, step : step + 1], state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        states.append(h)
    F.cross_entropy(head(states[-1][0]), y).backward()
    return [float(h.grad.double().norm()) for h in states]  # float64: squares of 1e-24 underflow float32


def relative(norms: list[float]) -> list[float]:
    """‖∂L/∂h_t‖ / ‖∂L/∂h_T‖, ordered by distance T − t = 0, 1, …"""
    return stacked.rounded([v / norms[-1] for v in reversed(norms)])


def compute() -> dict:
    """Every cell and seed at init, then the tanh RNN with W_hh = s·Q; the task: 360 test digits, pixel by pixel."""
    data = digits.load_digits("figure rnn_gate_gradients")
    x = data.pixels_test[:IMAGES].reshape(IMAGES, 64, 1)
    y = data.y_test[:IMAGES]
    cells: dict[str, list[list[float]]] = {}
    bounded: dict[str, list[list[float]]] = {}
    with threads(1):
        for cell in CELLS:
            cells[cell] = [relative(state_gradients(*make_cell(cell, seed), x, y)) for seed in SEEDS]
        for scale in SCALES:
            bounded[str(scale)] = [
                relative(state_gradients(*make_cell("tanh_rnn", seed, scale), x, y)) for seed in SEEDS
            ]
    return {
        "hidden": HIDDEN,
        "steps": x.shape[1],
        "images": IMAGES,
        "seeds": list(SEEDS),
        "distances": list(range(x.shape[1])),
        "cells": cells,  # [cell][seed][distance]
        "scales": list(SCALES),
        "bounded": bounded,  # [scale][seed][distance]
    }


def _band(ax, xs: list[int], runs: list[list[float]], colour: str, label: str) -> None:
    columns = list(zip(*runs, strict=True))
    ax.fill_between(xs, [min(c) for c in columns], [max(c) for c in columns], color=colour, alpha=0.2, lw=0)
    ax.plot(xs, [statistics.median(c) for c in columns], color=colour, label=label)


def draw(data: dict, lang: str):
    # One panel per row at the body width, each legend outside on the right: legible at the page's width.
    fig = style.figure(style.BODY_WIDTH, 6.6)
    ax_cells, ax_bound = fig.subplots(2, 1)
    xs = data["distances"]
    for cell in CELLS:
        _band(ax_cells, xs, data["cells"][cell], CELL_COLORS[cell], t(cell, lang))
    for scale in SCALES:
        colour = SCALE_COLORS[scale]
        _band(ax_bound, xs, data["bounded"][str(scale)], colour, t("singular_value_n", lang).format(f"{scale:g}"))
        ax_bound.plot(xs, [scale**k for k in xs], color=colour, linestyle=":", lw=1.2)
    ax_bound.plot([], [], color=style.PALETTE["grey"], linestyle=":", lw=1.2, label=t("bound_sk", lang))
    for ax in (ax_cells, ax_bound):
        ax.fill_between([], [], [], color=style.PALETTE["grey"], alpha=0.3, lw=0, label=t("seed_range", lang))
    for ax, title in ((ax_cells, "cells_title"), (ax_bound, "bound_title")):
        ax.set(yscale="log", xlabel=t("distance_to_loss", lang), ylabel=t("relative_state_grad", lang))
        ax.set_title(t(title, lang))
        ax.set_xlim(0, max(xs))
        ax.minorticks_off()
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax_cells.set_ylim(1e-17, 10)
    ax_cells.set_yticks([10.0**k for k in range(-16, 1, 4)])
    ax_bound.set_ylim(1e-17, 1e5)
    ax_bound.set_yticks([10.0**k for k in range(-16, 5, 4)])
    return fig


def _decades_per_step(runs: list[list[float]], start: int = 10) -> float:
    """Least-squares slope of log₁₀ of the median ratio against the distance, from ``start`` on."""
    median = [statistics.median(c) for c in zip(*runs, strict=True)][start:]
    xs = list(range(start, start + len(median)))
    return statistics.linear_regression(xs, [math.log10(v) for v in median]).slope


def _median_at(runs: list[list[float]], k: int) -> float:
    return statistics.median(run[k] for run in runs)


def check(data: dict) -> None:
    """Every number the caption and the alt text state, as they round it."""
    far = max(data["distances"])
    cells = data["cells"]
    # The plain tanh RNN vanishes exponentially: a straight line on the log scale, every seed below 10⁻¹² at 63,
    # the median about 3×10⁻¹⁵.
    worst = max(run[far] for run in cells["tanh_rnn"])
    assert worst < 1e-12, f"tanh RNN: every seed below 1e-12 of ‖∂L/∂h_T‖ at distance {far} (largest {worst:.1e})"
    middle = _median_at(cells["tanh_rnn"], far)
    assert 2.5e-15 <= middle < 3.5e-15, f"tanh RNN: median ≈ 3e-15 at distance {far} (is {middle:.1e})"
    median = [statistics.median(c) for c in zip(*cells["tanh_rnn"], strict=True)]
    r = statistics.correlation(data["distances"][1:], [math.log10(v) for v in median[1:]])
    assert r < -0.99, f"tanh RNN: log‖∂L/∂h_t‖ is linear in the distance (exponential decay; r = {r:.3f})"
    # The alt text: the tanh RNN, the LSTM with forget bias 0 and the GRU end between 10⁻¹⁵ and 10⁻¹² (medians).
    for cell in ("tanh_rnn", "lstm_bias_0", "gru"):
        end = _median_at(cells[cell], far)
        assert 1e-15 < end < 1e-12, f"{cell}: median between 1e-15 and 1e-12 at distance {far} (is {end:.1e})"
    # Forget-gate bias 1 keeps more gradient than bias 0 at every distance ≥ 10, every seed against every seed;
    # at distance 63 the medians differ about 2×10⁸-fold, and no seed pair by less than 5×10⁷.
    for k in range(10, far + 1):
        gap = min(run[k] for run in cells["lstm_bias_1"]) / max(run[k] for run in cells["lstm_bias_0"])
        assert gap > 1, f"distance {k}: LSTM with forget bias 1 above bias 0 for every seed (ratio {gap:.1f})"
    gap = min(run[far] for run in cells["lstm_bias_1"]) / max(run[far] for run in cells["lstm_bias_0"])
    assert gap > 5e7, f"distance {far}: forget bias 1 keeps > 5e7× more gradient than bias 0, every seed (is {gap:.1e})"
    ratio = _median_at(cells["lstm_bias_1"], far) / _median_at(cells["lstm_bias_0"], far)
    assert 1.5e8 <= ratio < 2.5e8, f"distance {far}: the medians of forget bias 1 and 0 differ ≈ 2e8× (is {ratio:.1e})"
    end = _median_at(cells["lstm_bias_1"], far)
    assert 4.5e-6 <= end < 5.5e-6, f"LSTM, forget bias 1: median ≈ 5e-6 at distance {far} (is {end:.1e})"
    slope0, slope1 = _decades_per_step(cells["lstm_bias_0"]), _decades_per_step(cells["lstm_bias_1"])
    assert slope1 > -0.1 > slope0, f"decades lost per step: bias 0 {slope0:.3f}, bias 1 {slope1:.3f} (> −0.1)"
    # At PyTorch's default init the GRU's update gate sits near σ(0) = 1/2: it vanishes about as fast as tanh.
    worst = max(run[far] for run in cells["gru"])
    assert worst < 1e-12, f"GRU at default init: every seed below 1e-12 at distance {far} too (is {worst:.1e})"
    slope_gru, slope_rnn = _decades_per_step(cells["gru"]), _decades_per_step(cells["tanh_rnn"])
    assert abs(slope_gru - slope_rnn) < 0.1, f"GRU {slope_gru:.3f} vs tanh RNN {slope_rnn:.3f} decades per step"
    # The identity-initialised ReLU RNN keeps about a quarter of the gradient over all 63 steps: never below 0.23.
    lowest = min(min(run) for run in cells["irnn"])
    assert 0.23 <= lowest < 0.24, f"IRNN: the lowest ratio over every distance and seed rounds to 0.23 ({lowest:.3f})"
    # Pascanu et al. (2013): ‖∂h_T/∂h_t‖ ≤ (γ·s)^k with γ = 1 for tanh; measured ratios never exceed s^k.
    for scale in data["scales"]:
        for run in data["bounded"][str(scale)]:
            excess = max(v / scale**k for k, v in enumerate(run))
            assert excess <= 1 + 1e-4, f"s = {scale}: ‖∂L/∂h_t‖/‖∂L/∂h_T‖ ≤ s^k at every distance (max {excess:.4f})"
    small = max(max(run[far] for run in data["bounded"][str(s)]) for s in data["scales"] if s < 1)
    assert small < 1e-3, f"every s < 1: the gradient has vanished at distance {far} (largest ratio {small:.1e})"
    # s = 0.9: the median is about 1.6×10⁻⁴, about 8 times below the bound 0.9⁶³ ≈ 1.3×10⁻³ (exercise 4).
    middle = _median_at(data["bounded"]["0.9"], far)
    assert 1.55e-4 <= middle < 1.65e-4, f"s = 0.9: median ≈ 1.6e-4 at distance {far} (is {middle:.2e})"
    below = 0.9**far / middle
    assert 7.5 <= below < 8.5, f"s = 0.9: the median is ≈ 8× below the bound at {far} (is {below:.1f}×)"
    # s = 1.5 > 1: the gradient grows, about 100-fold at distance 63 (median), far below the bound 1.5⁶³ ≈ 10¹¹.
    grown = min(run[far] for run in data["bounded"][str(max(data["scales"]))])
    assert grown > 3, f"s = {max(data['scales'])} > 1: the gradient grows with the distance (×{grown:.0f} at {far})"
    middle = _median_at(data["bounded"]["1.5"], far)
    assert 50 <= middle < 150, f"s = 1.5: median ≈ 100 at distance {far} (is {middle:.0f})"


if __name__ == "__main__":
    from gradnotes.site.gallery import main_for

    main_for(__file__)
