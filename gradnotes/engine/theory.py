"""Mean-field predictions for plain (norm = none) networks and the Glorot/He closed-form variance recursions.

Mean field (Poole et al. 2016; Schoenholz et al. 2017), zero biases, x ~ N(0, I):
q_1 = sigma_w^2 E[x^2],  q_{l+1} = sigma_w^2 E[phi(sqrt(q_l) xi)^2],  chi_l = sigma_w^2 E[phi'(sqrt(q_l) xi)^2].
Backward: E[(dL/dh_{l-1})^2] = chi_l E[(dL/dh_l)^2], and dL/da_l = dL/dh_l * phi'(a_l).
Weight gradients: dL/dW_l = sum_b delta_b h_b^T. With the random-projection loss the cross-sample terms have zero
mean, so ||dL/dW_l||_F^2 ~= batch * width^2 * E[delta_l^2] * E[h_{l-1}^2] = ||delta_l||^2 ||h_{l-1}||^2 / batch.
Hence log10 ratio(weight) = log10 ratio(preact) + 1/2 log10(E[h_0^2] / E[h_{L-1}^2]): for ReLU or any network in
the linear regime the forward shrinkage cancels the backward vanishing and weight gradients stay level even when
dL/da vanishes. With ``loss = sum`` the cross-sample terms do not vanish; no weight prediction is made then.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from gradnotes.engine.nets import activation_fn  # the simulation's own table: theory imports no simulator
from gradnotes.engine.spec import LEAKY_SLOPE, Spec
from gradnotes.errors import UserError

INPUT_MEAN_SQUARE = 1.0  # x ~ N(0, I)

# Composite Gauss-Legendre in z (xi ~ N(0,1)): a uniform grid over |z| <= Z_MAX plus, when q is large, a fine grid
# where the activation changes (|sqrt(q) z| <= FEATURE_U). Plain Gauss-Hermite misses phi' at large q: phi'(sqrt(q) z)
# is then a spike of width ~1/sqrt(q) that falls between its nodes.
_GL_ORDER = 24
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(_GL_ORDER)
Z_MAX = 12.0  # the N(0,1) mass beyond 12 sigma is ~4e-33
FEATURE_U = 40.0  # every supported phi is affine or constant up to ~1e-17 relative beyond |u| = 40
_PANELS = 96  # per grid: steps of 0.25 in z (coarse) and 40/48 ~ 0.83 in u (fine)


def weight_variance(init: str, fan_in: int, fan_out: int | None = None) -> float:
    """Var[W_ij] of an init from its closed form (torch.nn.init's formulas and gains), not from samples."""
    fan_out = fan_in if fan_out is None else fan_out
    gain = nn.init.calculate_gain
    uniform_variance = {  # U(-b, b) has variance b^2 / 3
        "xavier_uniform": (gain("linear") * math.sqrt(6.0 / (fan_in + fan_out))) ** 2 / 3.0,
        "he_uniform": (gain("relu") * math.sqrt(3.0 / fan_in)) ** 2 / 3.0,  # b = sqrt(6 / fan_in)
        # nn.Linear's default kaiming_uniform_(a=sqrt(5)): gain sqrt(1/3), b = 1/sqrt(fan_in)
        "torch_default": (gain("leaky_relu", math.sqrt(5.0)) * math.sqrt(3.0 / fan_in)) ** 2 / 3.0,
    }
    normal_variance = {
        "standard_normal": 1.0,
        "small_normal": 0.01**2,
        "xavier_normal": (gain("linear") * math.sqrt(2.0 / (fan_in + fan_out))) ** 2,
        "he_normal": (gain("relu") / math.sqrt(fan_in)) ** 2,
        "lecun_normal": (gain("linear") / math.sqrt(fan_in)) ** 2,
        # a (semi-)orthogonal matrix with orthonormal rows of length fan_in: entries average 1/fan_in
        "orthogonal": 1.0 / max(fan_in, fan_out),
    }
    table = uniform_variance | normal_variance
    if init not in table:
        raise UserError(f"unknown init {init!r}; valid: {', '.join(table)}")
    return table[init]


def sigma_w2(init: str, width: int) -> float:
    """sigma_w^2 = width * Var[W] for square layers."""
    return width * weight_variance(init, width, width)


@functools.lru_cache(maxsize=256)
def _quadrature(q: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights w with sum w f(sqrt(q) z) ~= E[f(sqrt(q) xi)] (cached: a layer asks for the same q two or
    three times; the arrays are never written to)."""
    edges = np.linspace(-Z_MAX, Z_MAX, _PANELS + 1)
    feature_z = FEATURE_U / math.sqrt(q)
    if feature_z < Z_MAX:
        edges = np.union1d(edges, np.linspace(-feature_z, feature_z, _PANELS + 1))
    left, right = edges[:-1, None], edges[1:, None]
    half = (right - left) / 2.0
    nodes = (left + half * (1.0 + _GL_NODES[None, :])).ravel()
    weights = (half * _GL_WEIGHTS[None, :]).ravel() * np.exp(-0.5 * nodes**2) / math.sqrt(2.0 * math.pi)
    return nodes, weights


def gaussian_expectation(fn: Callable[[np.ndarray], np.ndarray], q: float) -> float:
    """E[fn(sqrt(q) xi)] for xi ~ N(0, 1), accurate also when fn has features much narrower than sqrt(q)."""
    if q <= 0.0:
        return float(fn(np.zeros(1))[0])
    nodes, weights = _quadrature(q)
    return float(np.dot(weights, fn(math.sqrt(q) * nodes)))


def phi_and_derivative(activation: str) -> tuple[Callable[[np.ndarray], np.ndarray], ...]:
    """phi and phi' as numpy functions, computed by torch (phi' by autograd) exactly as the simulation does."""
    torch_phi = activation_fn(activation)

    def phi(u: np.ndarray) -> np.ndarray:
        return torch_phi(torch.from_numpy(np.asarray(u, dtype=np.float64))).numpy()

    def dphi(u: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.array(u, dtype=np.float64)).requires_grad_()
        (grad,) = torch.autograd.grad(torch_phi(t).sum(), t)
        return grad.numpy()

    return phi, dphi


@dataclass
class Prediction:
    """Mean-field per-layer predictions (lists over layers 1..L), named like the simulation's Result metrics."""

    sigma_w2: float
    q: list[float]  # Var[a_l]
    preact_std: list[float]  # sqrt(q_l)
    act_mean_square: list[float]  # E[h_l^2]
    chi: list[float]  # sigma_w^2 E[phi'(a_l)^2]
    preact_grad_norm: list[float]  # ||dL/da_l||_F
    act_grad_norm: list[float]  # ||dL/dh_l||_F
    weight_grad_norm: list[float] | None  # ||dL/dW_l||_F (random_projection loss only)
    log10_ratio_preact_grad: float  # log10(layer 1 / layer L)
    log10_ratio_weight_grad: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)


def _log10(value: float) -> float:
    """log10 that reads an underflow to 0 as -inf (then a ratio is +-inf or NaN, which the CLI reports as undefined)."""
    return math.log10(value) if value > 0 else -math.inf


def predict(spec: Spec) -> Prediction:
    """Mean-field predictions for norm = none (plain; residual for sigmoid/tanh), by the layer-by-layer recursion."""
    return predict_depths(spec, [spec.depth])[spec.depth]


def predict_depths(spec: Spec, depths: Sequence[int]) -> dict[int, Prediction]:
    """``predict`` for several depths of the same network at once: the forward recursion of a shallower network is
    the first layers of the deepest one's, so it runs once; each depth gets its own backward recursion."""
    if spec.norm != "none":
        raise UserError(f"theory covers norm = none only (mean field of plain networks), got norm = {spec.norm!r}")
    if spec.residual and spec.activation not in ("sigmoid", "tanh", "centered_sigmoid"):
        # measured: with rectifiers the residual stream's growing common mean breaks gradient independence and the
        # simulated dL/dh grows ~1.5 decades faster over 30 layers than this recursion says (tanh/sigmoid agree)
        raise UserError(
            f"theory for residual networks covers sigmoid, tanh and centered_sigmoid only, got {spec.activation!r}"
        )
    s2 = sigma_w2(spec.init, spec.width) * spec.gain**2  # a gain g scales Var[W] by g^2
    phi, dphi = phi_and_derivative(spec.activation)
    q, act_ms, chi, dphi_ms = [], [], [], []
    prev_ms, prev_mean = INPUT_MEAN_SQUARE, 0.0  # E[h_0^2], E[h_0]
    for _ in range(max(depths)):
        q_l = s2 * prev_ms
        phi_ms = gaussian_expectation(lambda u: phi(u) ** 2, q_l)
        d_ms = gaussian_expectation(lambda u: dphi(u) ** 2, q_l)
        if spec.residual:
            # h_l = h_{l-1} + phi(a_l) with a_l independent of h_{l-1}'s own unit: cross term E[h]E[phi]
            phi_mean = gaussian_expectation(phi, q_l)
            ms = prev_ms + phi_ms + 2.0 * prev_mean * phi_mean
            prev_mean += phi_mean
        else:
            ms = phi_ms
        q.append(q_l)
        act_ms.append(ms)
        chi.append(s2 * d_ms)
        dphi_ms.append(d_ms)
        prev_ms = ms
    return {depth: _backward(spec.replace(depth=depth), s2, q, act_ms, chi, dphi_ms) for depth in depths}


def _backward(spec: Spec, s2: float, q: list, act_ms: list, chi: list, dphi_ms: list) -> Prediction:
    """The backward recursion of one depth from the forward recursion's (first ``spec.depth``) layers."""
    depth = spec.depth
    q, act_ms, chi, dphi_ms = q[:depth], act_ms[:depth], chi[:depth], dphi_ms[:depth]
    # backward, per entry: g_L = E[(dL/dh_L)^2] = E[R^2] = 1 (also 1 for the sum loss)
    act_grad_ms = [0.0] * depth
    act_grad_ms[-1] = 1.0
    for layer in range(depth - 1, 0, -1):
        through = chi[layer]  # dL/dh_{l-1} collects dL/dh_l W_l phi'(a_l): variance factor chi_l
        act_grad_ms[layer - 1] = act_grad_ms[layer] * ((1.0 + through) if spec.residual else through)
    preact_grad_ms = [g * d for g, d in zip(act_grad_ms, dphi_ms, strict=True)]
    entries = spec.batch * spec.width
    preact_grad_norm = [math.sqrt(entries * v) for v in preact_grad_ms]
    act_grad_norm = [math.sqrt(entries * v) for v in act_grad_ms]
    ratio_preact = 0.5 * (_log10(preact_grad_ms[0]) - _log10(preact_grad_ms[-1]))
    weight_grad_norm: list[float] | None = None
    ratio_weight: float | None = None
    if spec.loss == "random_projection":
        inputs_ms = [INPUT_MEAN_SQUARE, *act_ms[:-1]]  # E[h_{l-1}^2]
        weight_grad_norm = [
            math.sqrt(spec.batch * spec.width**2 * d * h) for d, h in zip(preact_grad_ms, inputs_ms, strict=True)
        ]
        ratio_weight = ratio_preact + 0.5 * (_log10(inputs_ms[0]) - _log10(inputs_ms[-1]))
    return Prediction(
        sigma_w2=s2,
        q=q,
        preact_std=[math.sqrt(v) for v in q],
        act_mean_square=act_ms,
        chi=chi,
        preact_grad_norm=preact_grad_norm,
        act_grad_norm=act_grad_norm,
        weight_grad_norm=weight_grad_norm,
        log10_ratio_preact_grad=ratio_preact,
        log10_ratio_weight_grad=ratio_weight,
    )


def glorot_linear(sigma_w2: float, depth: int, input_variance: float = INPUT_MEAN_SQUARE) -> dict[str, list[float]]:
    """Glorot & Bengio's linear regime: Var[a_l] = sigma_w^2^l Var[x]; Var[delta_l] / Var[delta_L] = sigma_w^2^(L-l)."""
    return {
        "preact_var": [sigma_w2**layer * input_variance for layer in range(1, depth + 1)],
        "preact_grad_var_rel": [sigma_w2 ** (depth - layer) for layer in range(1, depth + 1)],
    }


def he_rectifier(
    sigma_w2: float, depth: int, slope: float = 0.0, input_variance: float = INPUT_MEAN_SQUARE
) -> dict[str, list[float]]:
    """He et al.'s (leaky) ReLU recursion: Var[a_1] = sigma_w^2 Var[x], Var[a_{l+1}] = sigma_w^2 (1+slope^2)/2 Var[a_l].

    Backward likewise: Var[delta_l] / Var[delta_L] = (sigma_w^2 (1 + slope^2)/2)^(L-l). He init (sigma_w^2 = 2) keeps
    both flat for ReLU; Xavier (sigma_w^2 = 1) halves them per layer.
    """
    factor = sigma_w2 * (1.0 + slope**2) / 2.0
    return {
        "preact_var": [sigma_w2 * input_variance * factor ** (layer - 1) for layer in range(1, depth + 1)],
        "preact_grad_var_rel": [factor ** (depth - layer) for layer in range(1, depth + 1)],
    }


def rectifier_slope(activation: str) -> float | None:
    """Negative-side slope for relu/leaky_relu (closed forms apply), None otherwise."""
    return {"relu": 0.0, "leaky_relu": LEAKY_SLOPE}.get(activation)
