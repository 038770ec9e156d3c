"""run(spec) -> Result: per-layer forward statistics and gradient norms of one network at initialisation.

Networks that differ only in init and seed share one batched computation: tensors are shaped
(members, batch, width), weights (members, width, width), so every layer is one batched matmul. BatchNorm1d sees a
(batch, members*width) view, which gives exactly per-member, per-channel batch statistics; LayerNorm works on the
last axis. Everything (input, readout, weights) is drawn from one torch.Generator seeded with the spec's seed, in a
fixed order (x, R, W_1..W_L), so specs that differ only in activation/norm/loss see the very same draws.

Reproducibility: the same call gives bit-identical results in any process (fixed threads, deterministic algorithms).
Changing the thread count (``nets.threads``) or, under BatchNorm, the set of specs batched together changes results
only by rounding (~1e-15 relative).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gradnotes.engine.nets import activation_fn, fixed_threads, init_weight_, threads
from gradnotes.engine.spec import RECTIFIERS, SATURATING, Spec
from gradnotes.errors import UserError

# Per-layer metrics, in the order the CLI prints them; each is a list of `depth` values (or None when undefined).
METRICS = (
    "act_mean_square",
    "preact_std",
    "saturated_fraction",
    "zero_fraction",
    "dead_unit_fraction",
    "weight_grad_norm",
    "preact_grad_norm",
    "act_grad_norm",
    "weight_norm",
    "nonfinite",
)
SATURATION_LEVEL = 0.05  # saturated where phi'(z) < 5 % of phi'(0)
# tanh'(z) = sech^2(z) < 0.05 <=> |z| > atanh(sqrt(0.95)); sigmoid'(z) = tanh'(z/2)/4, so twice that.
_TANH_SATURATION_Z = math.atanh(math.sqrt(1.0 - SATURATION_LEVEL))
SATURATION_Z = {
    "tanh": _TANH_SATURATION_Z,
    "sigmoid": 2.0 * _TANH_SATURATION_Z,
    "centered_sigmoid": 2.0 * _TANH_SATURATION_Z,  # the same derivative as the sigmoid
}
# Fixed thread count: reductions split per thread, so results are reproducible only for a fixed count.
DEFAULT_THREADS = 2
# Below this many multiply-adds per layer a second thread costs more (OpenMP wake-ups) than it saves.
_SMALL_LAYER_MACS = 2_000_000
MAX_MEMBERS = 32  # members per batched computation: bounds memory (~1.5 GB at width = batch = 256, depth 30)


@dataclass(frozen=True)
class Draws:
    """Everything random about one spec: input x (batch, width), readout R (batch, width), weights W_1..W_L."""

    x: Tensor
    readout: Tensor
    weights: tuple[Tensor, ...]


def _draw_into(spec: Spec, x: Tensor, readout: Tensor, weights: Sequence[Tensor]) -> None:
    """Fill x, R and W_1..W_L in place from one generator seeded with spec.seed, in that order."""
    generator = torch.Generator().manual_seed(spec.seed)
    x.normal_(generator=generator)  # what torch.randn draws
    # R is drawn for the sum loss too, so that both losses see identical weights
    readout.normal_(generator=generator)
    for weight in weights:
        init_weight_(weight, spec.init, generator, spec.gain)


def draw(spec: Spec) -> Draws:
    """Draw x, R and the weights from one generator seeded with spec.seed, in that order."""
    dtype = getattr(torch, spec.dtype)
    x = torch.empty(spec.batch, spec.width, dtype=dtype)
    readout = torch.empty(spec.batch, spec.width, dtype=dtype)
    weights = torch.empty(spec.depth, spec.width, spec.width, dtype=dtype)
    _draw_into(spec, x, readout, weights.unbind(0))
    return Draws(x=x, readout=readout, weights=tuple(weights.unbind(0)))


@dataclass
class Result:
    """Per-layer statistics of one network (lists indexed by layer 1..L); JSON round-trips via to_dict/from_dict."""

    spec: Spec
    act_mean_square: list[float]
    preact_std: list[float]
    saturated_fraction: list[float] | None
    zero_fraction: list[float] | None
    dead_unit_fraction: list[float] | None
    weight_grad_norm: list[float]
    preact_grad_norm: list[float]
    act_grad_norm: list[float]
    weight_norm: list[float]
    nonfinite: list[bool]
    loss: float
    histograms: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (floats may be NaN/inf, which Python's json writes as NaN/Infinity)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["spec"] = self.spec.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Inverse of to_dict."""
        kwargs = dict(data)
        kwargs["spec"] = Spec.from_dict(data["spec"])
        return cls(**kwargs)

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Result:
        """Inverse of to_json."""
        return cls.from_dict(json.loads(text))

    def log10_ratio(self, metric: str = "weight_grad_norm") -> float:
        """log10(layer 1 / layer L) of a per-layer metric; NaN when either end is non-finite or not positive."""
        values = getattr(self, metric)
        first, last = values[0], values[-1]
        if not (math.isfinite(first) and math.isfinite(last)) or first <= 0 or last <= 0:
            if first == 0 and last > 0 and math.isfinite(last):
                return -math.inf  # a gradient that vanished to exact zero in float arithmetic
            return math.nan
        return math.log10(first) - math.log10(last)


@contextlib.contextmanager
def engine_settings(count: int = DEFAULT_THREADS) -> Iterator[None]:
    """``threads(count)`` plus deterministic algorithms for the block, restoring the caller's settings after."""
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    previous_fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True)
    # deterministic mode NaN-fills every new tensor by default: a full extra memory pass per op, and our ops never
    # read uninitialised memory
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        with threads(count):
            yield
    finally:
        torch.use_deterministic_algorithms(previous_deterministic)
        torch.utils.deterministic.fill_uninitialized_memory = previous_fill


def threads_for(spec: Spec) -> int:
    """The thread count a spec runs with: an enclosing ``nets.threads(n)`` decides, else the layer size."""
    fixed = fixed_threads()
    if fixed is not None:
        return fixed
    if spec.batch * spec.width * spec.width < _SMALL_LAYER_MACS:
        return 1
    return DEFAULT_THREADS


def memory_estimate(spec: Spec, members: int = 1) -> int:
    """Bytes a batched run of ``members`` such networks holds at its peak (weights, their gradients, and the per-layer
    tensors autograd keeps for the backward pass); within a factor ~1.5 of what was measured."""
    itemsize = 8 if spec.dtype == "float64" else 4
    weights = 2 * spec.depth * spec.width * spec.width  # W and dL/dW
    per_layer = 6 * spec.batch * spec.width  # a, z, h and what the norm and activation save, plus gradients in flight
    histograms = spec.depth * spec.batch * spec.width * 2 if spec.hist_bins else 0
    return members * itemsize * (weights + spec.depth * per_layer + histograms)


def available_memory() -> int | None:
    """MemAvailable of this machine in bytes (Linux), or None where unknown."""
    try:
        for line in open("/proc/meminfo", encoding="ascii"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _check_memory(spec: Spec, members: int) -> None:
    need, have = memory_estimate(spec, members), available_memory()
    if have is not None and need > 0.8 * have:
        largest = max(
            ("--width", spec.width**2), ("--depth", spec.depth), ("--batch", spec.batch), key=lambda kv: kv[1]
        )
        raise UserError(
            f"this simulation needs about {need / 2**30:.1f} GiB ({members} network(s) of depth {spec.depth}, width "
            f"{spec.width}, batch {spec.batch}, {spec.dtype}) but {have / 2**30:.1f} GiB are available: "
            f"reduce {largest[0] if largest[0] != '--width' else '--width (memory grows with its square)'}"
            f", or run fewer seeds"
        )


def run(spec: Spec) -> Result:
    """Simulate one spec (no cache)."""
    return run_many([spec])[0]


def _group_key(spec: Spec) -> tuple:
    # members of one batched computation may differ only in what the weights are (init, gain, seed)
    return tuple(getattr(spec, f.name) for f in dataclasses.fields(spec) if f.name not in ("init", "gain", "seed"))


def run_many(specs: Sequence[Spec], *, max_members: int = MAX_MEMBERS) -> list[Result]:
    """Simulate many specs, batching those that differ only in init/seed and reusing their draws (no cache)."""
    unique = list(dict.fromkeys(specs))
    groups: dict[tuple, list[Spec]] = {}
    for spec in unique:
        groups.setdefault(_group_key(spec), []).append(spec)
    chunks = []
    for members in groups.values():
        for start in range(0, len(members), max_members):
            chunk = members[start : start + max_members]
            keys = tuple((s.seed, s.init, s.gain, s.depth, s.width, s.batch, s.dtype) for s in chunk)
            chunks.append((keys, chunk))
    # the draws depend only on (seed, init, gain, sizes, dtype), not on activation/norm/loss: chunks with the same
    # members (every cell of a grid) run one after another and share one set of stacked draws
    chunks.sort(key=lambda item: item[0])
    for _, chunk in chunks:
        _check_memory(chunk[0], len(chunk))  # refuse before allocating anything, not after minutes of swapping
    done: dict[Spec, Result] = {}
    current: tuple[tuple, _Stacked] | None = None
    for keys, chunk in chunks:
        with engine_settings(threads_for(chunk[0])):
            if current is None or current[0] != keys:
                current = None  # free the previous draws before drawing new ones
                current = (keys, _Stacked.draw(chunk))
            for spec, result in zip(chunk, _run_members(chunk, current[1]), strict=True):
                done[spec] = result
    return [done[spec] for spec in specs]


def _norm_layer(spec: Spec, members: int) -> Callable[[Tensor], Tensor]:
    dtype = getattr(torch, spec.dtype)
    if spec.norm == "none":
        return lambda a: a
    if spec.norm == "layernorm":
        module: nn.Module = nn.LayerNorm(spec.width, dtype=dtype)
        module.requires_grad_(False)  # gamma/beta stay at 1/0; their gradients are not recorded
        return module
    module = nn.BatchNorm1d(members * spec.width, dtype=dtype)  # train mode: batch statistics
    module.requires_grad_(False)
    batch, width = spec.batch, spec.width

    def batchnorm(a: Tensor) -> Tensor:
        # channel = (member, unit): statistics over the batch only, never across members
        flat = a.transpose(0, 1).reshape(batch, members * width)
        return module(flat).view(batch, members, width).transpose(0, 1)

    return batchnorm


def _f64(t: Tensor) -> Tensor:
    # float32 values near 1e38 square to inf: accumulate statistics in float64
    return t if t.dtype == torch.float64 else t.double()


def _norms(t: Tensor) -> Tensor:
    t = _f64(t)
    norms = torch.linalg.vector_norm(t, dim=(1, 2))
    if bool(torch.isfinite(norms).all()):
        return norms
    # Finite entries beyond ~1e154 square to inf: a norm of finite values is then recomputed scaled by the largest
    # |entry|, so that only a network whose values really are inf/NaN reports a non-finite norm.
    scale = t.abs().amax(dim=(1, 2)).clamp_min(torch.finfo(torch.float64).tiny)
    scaled = scale * torch.linalg.vector_norm(t / scale[:, None, None], dim=(1, 2))
    return torch.where(torch.isfinite(norms) | ~torch.isfinite(scaled), norms, scaled)


def _count(mask: Tensor) -> Tensor:
    # int32 sums straight from bool; int64 (count_nonzero, the default) first copies the mask to int64
    return mask.sum(dim=tuple(range(1, mask.dim())), dtype=torch.int32).double()


def _nonfinite(t: Tensor, statistic: Tensor) -> Tensor:
    """Per member: does t hold inf/NaN? The statistic (a norm) is non-finite whenever t is, so look only then."""
    if bool(torch.isfinite(statistic).all()):
        return torch.zeros(t.shape[0], dtype=torch.bool)
    return ~torch.isfinite(t).flatten(1).all(dim=1)


class _Recorder:
    """Collects per-layer (members,) statistics during forward and backward; converts to lists once at the end."""

    def __init__(self, spec: Spec, members: int) -> None:
        self.spec = spec
        self.members = members
        depth = spec.depth
        self.stats: dict[str, list[Tensor | None]] = {m: [None] * depth for m in METRICS}
        self.nonfinite = [torch.zeros(members, dtype=torch.bool) for _ in range(depth)]
        self.keep_hist = spec.hist_bins > 0
        self.hist_values: dict[str, list[Tensor | None]] = {"act": [None] * depth, "preact_grad": [None] * depth}

    def forward(self, layer: int, a: Tensor, z: Tensor, h: Tensor) -> None:
        spec = self.spec
        count = spec.batch * spec.width
        with torch.no_grad():
            a, z, h = a.detach(), z.detach(), h.detach()
            # std from sum and sum of squares: two cheap passes instead of torch.std's slow Welford kernel; the
            # cancellation is harmless because the weights are zero-mean (mean(a)^2 << var(a))
            preact_mean = _f64(a).sum(dim=(1, 2)) / count
            preact_norm = _norms(a)
            preact_var = (preact_norm.square() / count - preact_mean.square()).clamp_min(0.0)
            act_norm = _norms(h)
            preact_std = preact_var.sqrt()
            if not bool(torch.isfinite(preact_std).all()):
                # E[a^2] beyond float64 while a is finite: the same std from the RMS, which stays representable
                rms = preact_norm / math.sqrt(count)
                stable = rms * (1.0 - (preact_mean / rms).square()).clamp_min(0.0).sqrt()
                preact_std = torch.where(torch.isfinite(preact_std), preact_std, stable)
            self.stats["preact_std"][layer] = preact_std
            self.stats["act_mean_square"][layer] = act_norm.square() / count
            self.nonfinite[layer] |= _nonfinite(a, preact_norm) | _nonfinite(h, act_norm)
            if spec.activation in SATURATING:
                threshold = SATURATION_Z[spec.activation]
                saturated = _count(z > threshold) + _count(z < -threshold)
                self.stats["saturated_fraction"][layer] = saturated / count
            if spec.activation in RECTIFIERS:
                negative = z <= 0
                self.stats["zero_fraction"][layer] = _count(negative) / count
                dead = negative.all(dim=1)  # a unit silent for every sample of the batch
                self.stats["dead_unit_fraction"][layer] = _count(dead) / spec.width
            if self.keep_hist:
                self.hist_values["act"][layer] = h

    def backward_hook(self, metric: str, layer: int) -> Callable[[Tensor], None]:
        def hook(grad: Tensor) -> None:
            norm = _norms(grad)
            self.stats[metric][layer] = norm
            self.nonfinite[layer] |= _nonfinite(grad, norm)
            if self.keep_hist and metric == "preact_grad_norm":
                self.hist_values["preact_grad"][layer] = grad

        return hook

    def weights(self, layer: int, weight: Tensor, grad: Tensor) -> None:
        self.stats["weight_norm"][layer] = _norms(weight)
        grad_norm = _norms(grad)
        self.stats["weight_grad_norm"][layer] = grad_norm
        self.nonfinite[layer] |= _nonfinite(grad, grad_norm)

    def results(self, specs: Sequence[Spec], loss: Tensor) -> list[Result]:
        per_metric: dict[str, list[list[Any]] | None] = {}
        for metric in METRICS:
            if metric == "nonfinite":
                per_metric[metric] = torch.stack(self.nonfinite, dim=1).tolist()
                continue
            values = self.stats[metric]
            if values[0] is None:
                per_metric[metric] = None
                continue
            per_metric[metric] = torch.stack([v.double() for v in values], dim=1).tolist()
        histograms = self._histograms() if self.keep_hist else [None] * self.members
        losses = loss.tolist()
        results = []
        for i, spec in enumerate(specs):
            fields = {m: (None if v is None else v[i]) for m, v in per_metric.items()}
            results.append(Result(spec=spec, loss=losses[i], histograms=histograms[i], **fields))
        return results

    def _histograms(self) -> list[dict[str, Any]]:
        spec = self.spec
        bounded = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "centered_sigmoid": (-0.5, 0.5)}
        default_act = None if spec.residual else bounded.get(spec.activation)
        fixed = {"act": spec.hist_act_range or default_act, "preact_grad": spec.hist_grad_range}
        out: list[dict[str, Any]] = [{} for _ in range(self.members)]
        for name, layers in self.hist_values.items():
            stacked = torch.stack([_f64(t) for t in layers], dim=1)  # (members, depth, batch, width)
            for i in range(self.members):
                values = stacked[i]
                low_high = fixed[name]
                if low_high is None:
                    # one symmetric range for all layers of this network, so layers are comparable
                    finite = values[torch.isfinite(values)]
                    bound = float(finite.abs().max()) if finite.numel() else 0.0
                    low_high = (-bound, bound) if bound > 0 else (-1.0, 1.0)
                low, high = float(low_high[0]), float(low_high[1])
                bins = spec.hist_bins
                edges = torch.linspace(low, high, bins + 1, dtype=torch.float64)
                counts = [torch.histc(v, bins=bins, min=low, max=high).long().tolist() for v in values]
                below = torch.count_nonzero(values < low, dim=(1, 2)).tolist()
                above = torch.count_nonzero(values > high, dim=(1, 2)).tolist()
                out[i][name] = {"edges": edges.tolist(), "counts": counts, "below": below, "above": above}
        return out


@dataclass(frozen=True)
class _Stacked:
    """Draws of several members stacked along a leading axis: x, R (members, batch, width), W_l (members, w, w)."""

    x: Tensor
    readout: Tensor
    weights: tuple[Tensor, ...]

    @classmethod
    def draw(cls, specs: Sequence[Spec]) -> _Stacked:
        """Each member's draws, made straight into the stacked tensors (no per-member copies to stack)."""
        spec, members = specs[0], len(specs)
        dtype = getattr(torch, spec.dtype)
        x = torch.empty(members, spec.batch, spec.width, dtype=dtype)
        readout = torch.empty(members, spec.batch, spec.width, dtype=dtype)
        weights = [torch.empty(members, spec.width, spec.width, dtype=dtype) for _ in range(spec.depth)]
        for m, member in enumerate(specs):
            _draw_into(member, x[m], readout[m], [w[m] for w in weights])
        # leaves that need grad; torch.autograd.grad never accumulates into them, so they can be reused
        return cls(x=x, readout=readout, weights=tuple(w.requires_grad_() for w in weights))


def _run_members(specs: Sequence[Spec], stacked: _Stacked) -> list[Result]:
    """One batched forward/backward for specs that differ only in init/seed: the one-depth case of the shared pass."""
    return _run_members_depths(specs, stacked, (specs[0].depth,))[specs[0].depth]


def _depth_group_key(spec: Spec) -> tuple:
    return tuple(
        getattr(spec, f.name) for f in dataclasses.fields(spec) if f.name not in ("init", "gain", "seed", "depth")
    )


def run_depths(specs: Sequence[Spec], *, max_members: int = MAX_MEMBERS, weight_grads: bool = True) -> list[Result]:
    """Like ``run_many``, for specs that may also differ in depth: the same numbers with one forward pass per group.

    A shallower network's draws are the first layers of a deeper one's (x, R, then W_1, W_2, ... from one generator),
    so networks that differ only in depth share one forward pass to the largest depth, and each depth gets its own
    backward pass from its own last layer (its loss). Every Result equals what ``run_many`` gives for the same
    members bit for bit (tests/engine/test_depths.py). As in ``run_many``, groups with the same members (every
    activation/norm of a grid) run one after another on one set of draws. Specs whose member set is not the same at
    every depth of their group fall back to ``run_many``.

    ``weight_grads=False`` differentiates with respect to the input instead of the weights: autograd then skips the
    dL/dW matmuls (a third of the work) and the Results carry no weight statistics (``weight_grad_norm`` and
    ``weight_norm`` are None: at batch 30 a W holds 8.5× the entries of a layer's activations, so its norm is not
    free) — every other statistic is still bit-identical (tested). Such partial Results are for the explorer's grid;
    the cache refuses them.
    """
    unique = list(dict.fromkeys(specs))
    groups: dict[tuple, dict[tuple, set[int]]] = {}
    templates: dict[tuple, Spec] = {}
    for spec in unique:
        key = _depth_group_key(spec)
        templates.setdefault(key, spec)
        groups.setdefault(key, {}).setdefault((spec.init, spec.gain, spec.seed), set()).add(spec.depth)
    chunks = []
    irregular: list[Spec] = []
    for group_key, members in groups.items():
        if len({frozenset(d) for d in members.values()}) != 1:
            irregular.extend(s for s in unique if _depth_group_key(s) == group_key)
            continue
        depths = tuple(sorted(next(iter(members.values()))))
        deepest = templates[group_key].replace(depth=depths[-1])
        member_specs = [deepest.replace(init=i, gain=g, seed=s) for i, g, s in members]
        for start in range(0, len(member_specs), max_members):
            chunk = member_specs[start : start + max_members]
            keys = tuple((s.seed, s.init, s.gain, s.depth, s.width, s.batch, s.dtype) for s in chunk)
            chunks.append((keys, chunk, depths))
    chunks.sort(key=lambda item: item[0])
    for _, chunk, _ in chunks:
        _check_memory(chunk[0], len(chunk))
    done: dict[Spec, Result] = {}
    current: tuple[tuple, _Stacked] | None = None
    for keys, chunk, depths in chunks:
        with engine_settings(threads_for(chunk[0])):
            if current is None or current[0] != keys:
                current = None  # free the previous draws before drawing new ones
                current = (keys, _Stacked.draw(chunk))
            for results in _run_members_depths(chunk, current[1], depths, weight_grads).values():
                for result in results:
                    done[result.spec] = result
    current = None
    for result in run_many(irregular) if irregular else []:
        done[result.spec] = result
    return [done[spec] for spec in specs]


class _Current:
    """Where the backward hooks of a shared forward pass record: the recorder of the depth being differentiated."""

    recorder: _Recorder | None = None

    def hook(self, metric: str, layer: int) -> Callable[[Tensor], None]:
        def hook(grad: Tensor) -> None:
            assert self.recorder is not None
            self.recorder.backward_hook(metric, layer)(grad)

        return hook


def _run_members_depths(
    specs: Sequence[Spec], stacked: _Stacked, depths: Sequence[int], weight_grads: bool = True
) -> dict[int, list[Result]]:
    """One batched forward pass to the deepest layer, then one backward pass per depth from that depth's loss."""
    spec = specs[0]
    members = len(specs)
    phi = activation_fn(spec.activation)
    norm = _norm_layer(spec, members)
    forward = _Recorder(spec, members)
    current = _Current()
    weights = stacked.weights
    x = stacked.x if weight_grads else stacked.x.requires_grad_()
    h = x
    outputs: list[Tensor] = []
    for layer, weight in enumerate(weights):
        a = torch.bmm(h, weight.mT)  # a_l = h_{l-1} W_l^T, like nn.Linear without bias; bmm takes strided h as is
        z = norm(a)
        y = phi(z)
        h = h + y if spec.residual else y
        forward.forward(layer, a, z, h)
        a.register_hook(current.hook("preact_grad_norm", layer))
        h.register_hook(current.hook("act_grad_norm", layer))
        outputs.append(h)
    out: dict[int, list[Result]] = {}
    for depth in depths:
        shallow = spec.replace(depth=depth)
        recorder = _Recorder(shallow, members)
        for metric, values in forward.stats.items():
            recorder.stats[metric][:depth] = values[:depth]
        recorder.nonfinite = [flags.clone() for flags in forward.nonfinite[:depth]]
        recorder.hist_values["act"][:depth] = forward.hist_values["act"][:depth]
        current.recorder = recorder
        h_d = outputs[depth - 1]
        if spec.loss == "random_projection":
            per_member_loss = (stacked.readout * h_d).sum(dim=(1, 2))
        else:
            per_member_loss = h_d.sum(dim=(1, 2))
        retain = depth != depths[-1]
        if weight_grads:
            # members are independent, so the gradient of the total is each member's own gradient
            grads = torch.autograd.grad(per_member_loss.sum(), weights[:depth], retain_graph=retain)
            for layer, (weight, grad) in enumerate(zip(weights[:depth], grads, strict=True)):
                recorder.weights(layer, weight.detach(), grad)
            del grads
        else:
            torch.autograd.grad(per_member_loss.sum(), [x], retain_graph=retain)
        results = recorder.results([s.replace(depth=depth) for s in specs], per_member_loss.detach().double())
        out[depth] = results
    return out
