"""Spec: what one simulated network is (activation, init, norm, sizes, seed, loss); validated, hashable, JSON-able."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from gradnotes.errors import UserError

# Public names: the CLI, the JSON and the figures use exactly these strings.
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu", "centered_sigmoid")
CORE_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
INITS = (
    "standard_normal",
    "small_normal",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "torch_default",
    "orthogonal",
    "lecun_normal",
)
CORE_INITS = ("standard_normal", "small_normal", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal")
NORMS = ("none", "batchnorm", "layernorm")
LOSSES = ("random_projection", "sum")
DTYPES = ("float64", "float32")

SATURATING = ("sigmoid", "tanh", "centered_sigmoid")  # saturated_fraction is recorded for these
RECTIFIERS = ("relu", "leaky_relu", "elu", "gelu", "silu")  # zero/dead-unit fractions (z <= 0) for these
LEAKY_SLOPE = 0.01  # torch's default negative_slope, the value of Maas et al. 2013
# A stated limit instead of a silent run of many minutes: 10,000 layers take ~1 min to simulate at width 256, and the
# mean-field recursion ~20 s; every figure and lesson here needs at most a few hundred.
MAX_DEPTH = 10_000


def _check_name(kind: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise UserError(f"unknown {kind} {value!r}; valid: {', '.join(valid)}")


def _check_positive_int(name: str, value: Any) -> None:
    # bool is an int subclass; True as a depth is a bug, not a size
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserError(f"{name} must be a positive integer, got {value!r}")


def _check_range(name: str, value: Any) -> None:
    if value is None:
        return
    ok = (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
        and value[0] < value[1]
    )
    if not ok:
        raise UserError(f"{name} must be a pair (low, high) of finite numbers with low < high, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Spec:
    """One fully connected, bias-free network at initialisation, and the statistics to record about it.

    Layer l: a_l = h_{l-1} W_l^T, z_l = Norm(a_l), h_l = phi(z_l) (or h_{l-1} + phi(z_l) with ``residual``).
    ``gain`` multiplies the init's standard deviation (and bounds): the weights are ``gain`` times what the init draws.
    ``hist_bins > 0`` also keeps per-layer histograms of h_l and of dL/da_l; ``hist_act_range`` and
    ``hist_grad_range`` fix their edges (defaults: phi's range for sigmoid/tanh, else +-max|value| over layers).
    """

    activation: str = "tanh"
    init: str = "xavier_uniform"
    norm: str = "none"
    depth: int = 30
    width: int = 256
    batch: int = 256
    seed: int = 0
    loss: str = "random_projection"
    dtype: str = "float64"
    residual: bool = False
    gain: float = 1.0
    hist_bins: int = 0
    hist_act_range: tuple[float, float] | None = None
    hist_grad_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        _check_name("activation", self.activation, ACTIVATIONS)
        _check_name("init", self.init, INITS)
        _check_name("norm", self.norm, NORMS)
        _check_name("loss", self.loss, LOSSES)
        _check_name("dtype", self.dtype, DTYPES)
        for name in ("depth", "width", "batch"):
            _check_positive_int(name, getattr(self, name))
        if self.depth > MAX_DEPTH:
            raise UserError(f"depth must be at most {MAX_DEPTH:,} (deeper runs take many minutes), got {self.depth:,}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise UserError(f"seed must be a non-negative integer, got {self.seed!r}")
        if (
            isinstance(self.gain, bool)
            or not isinstance(self.gain, (int, float))
            or not (math.isfinite(self.gain) and self.gain > 0)
        ):
            raise UserError(f"gain must be a positive finite number, got {self.gain!r}")
        object.__setattr__(self, "gain", float(self.gain))  # 2 and 2.0 are one spec (one cache key)
        if not isinstance(self.residual, bool):
            raise UserError(f"residual must be true or false, got {self.residual!r}")
        if isinstance(self.hist_bins, bool) or not isinstance(self.hist_bins, int) or self.hist_bins < 0:
            raise UserError(f"hist_bins must be a non-negative integer (0 = no histograms), got {self.hist_bins!r}")
        for name in ("hist_act_range", "hist_grad_range"):
            value = getattr(self, name)
            if isinstance(value, list):
                # JSON gives lists; keep the field hashable so Spec stays usable as a dict key
                value = tuple(value)
                object.__setattr__(self, name, value)
            _check_range(name, value)
        if self.norm == "batchnorm" and self.batch < 2:
            raise UserError("batchnorm needs batch >= 2 (the statistics of one sample are undefined)")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        d = dataclasses.asdict(self)
        for name in ("hist_act_range", "hist_grad_range"):
            if d[name] is not None:
                d[name] = [float(v) for v in d[name]]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spec:
        """Inverse of to_dict; unknown keys are a UserError."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise UserError(f"unknown Spec field(s): {', '.join(unknown)}")
        return cls(**data)

    def canonical_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace; the basis of key()."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    def key(self) -> str:
        """Stable sha256 hex digest of the canonical JSON."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def replace(self, **changes: Any) -> Spec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
