"""Measure a torch model: one forward and one backward pass with hooks, summed into a :class:`Report`.

``diagnose(model, batch, loss_fn)`` hooks every module that owns parameters or is a known activation. It leaves no
trace on the model: hooks are removed (also when ``loss_fn`` raises), ``.grad`` is untouched (gradients come from
``torch.autograd.grad``), buffers such as BatchNorm's running statistics are restored and the global random state is
forked.

What the hooks cannot see: activations applied as functions inside ``forward`` (``torch.sigmoid(x)``, ``F.relu``,
the gates inside ``nn.LSTM``, the activation inside ``nn.TransformerEncoderLayer``) get no row of their own; their
effect still shows in the gradients of the layers around them.

``torch`` is imported inside functions so that ``gradnotes --help`` stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gradnotes.diagnose.report import LayerStats, Report
from gradnotes.diagnose.rules import Thresholds, find_flags
from gradnotes.errors import UserError

if TYPE_CHECKING:
    import torch

# Activation modules by what can go wrong with them. Subclasses count (nn.ReLU6 is an nn.Hardtanh, so order matters).
DEAD_PRONE = ("ReLU", "ReLU6")
SATURATING = ("Sigmoid", "Tanh", "Softsign", "Hardtanh", "Hardsigmoid")
OTHER_ACTIVATIONS = (
    "LeakyReLU",
    "PReLU",
    "RReLU",
    "ELU",
    "SELU",
    "CELU",
    "GELU",
    "SiLU",
    "Mish",
    "Softplus",
    "Hardswish",
    "LogSigmoid",
)


class _Accumulator:
    """Running per-module sums over every forward call (a module may run several times, e.g. in a loop)."""

    def __init__(self) -> None:
        self.calls = 0
        self.order: int | None = None
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0  # sum of squared deviations (Chan et al.'s parallel update keeps it exact enough in float64)
        self.nonfinite = 0
        self.saturated = 0
        self.saturation_count = 0
        self.alive: torch.Tensor | None = None
        self.dead_defined = True
        self.grad_sq = 0.0
        self.grad_count = 0
        self.nonfinite_grad = 0

    def add_activation(self, x: torch.Tensor) -> None:
        import torch

        x = x.detach().to(torch.float64)
        n = x.numel()
        if n == 0:
            return
        self.nonfinite += int((~torch.isfinite(x)).sum())
        mean = float(x.mean())
        m2 = float(((x - mean) ** 2).sum()) if math.isfinite(mean) else math.nan
        total = self.count + n
        delta = mean - self.mean
        self.m2 = self.m2 + m2 + delta * delta * self.count * n / total
        self.mean = self.mean + delta * n / total
        self.count = total

    def add_saturation(self, saturated: torch.Tensor) -> None:
        self.saturated += int(saturated.sum())
        self.saturation_count += saturated.numel()

    def add_alive(self, y: torch.Tensor) -> None:
        # A unit is one position of a sample's output (a feature, or a channel at one pixel); alive if > 0 somewhere.
        alive = (y.detach() > 0).any(dim=0) if y.dim() >= 2 else y.detach() > 0
        if self.alive is None:
            self.alive = alive
        elif self.alive.shape == alive.shape:
            self.alive = self.alive | alive
        else:
            self.dead_defined = False

    def add_grad(self, grad: torch.Tensor) -> None:
        import torch

        g = grad.detach().to(torch.float64)
        self.nonfinite_grad += int((~torch.isfinite(g)).sum())
        self.grad_sq += float((g * g).sum())
        self.grad_count += g.numel()


def _first_tensor(obj: Any) -> torch.Tensor | None:
    """The first floating-point tensor in a module's output (nn.LSTM and nn.MultiheadAttention return tuples)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj if obj.is_floating_point() else None
    if isinstance(obj, (tuple, list)):  # PackedSequence is a tuple too: its first field is the data
        for item in obj:
            found = _first_tensor(item)
            if found is not None:
                return found
    if isinstance(obj, dict):
        for item in obj.values():
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _activation_kind(module: torch.nn.Module) -> str | None:
    """ "dead" for the ReLU family, "saturating" for sigmoid-like ones, "other" for other activations, else None."""
    import torch.nn as nn

    if isinstance(module, tuple(getattr(nn, n) for n in DEAD_PRONE)):
        return "dead"
    if isinstance(module, tuple(getattr(nn, n) for n in SATURATING)):
        return "saturating"
    if isinstance(module, tuple(getattr(nn, n) for n in OTHER_ACTIVATIONS if hasattr(nn, n))):
        return "other"
    return None


def _saturated(module: torch.nn.Module, y: torch.Tensor, slope: float) -> torch.Tensor:
    """Where φ′(z) < slope · φ′(0), decided from the output y = φ(z) alone."""
    import torch.nn as nn

    y = y.detach()
    if isinstance(module, nn.Sigmoid):  # σ′ = σ(1 − σ) = (1 − (2σ − 1)²)/4 and σ′(0) = 1/4
        return (2 * y - 1).abs() > math.sqrt(1 - slope)
    if isinstance(module, nn.Tanh):  # tanh′ = 1 − tanh², tanh′(0) = 1
        return y.abs() > math.sqrt(1 - slope)
    if isinstance(module, nn.Softsign):  # y = z/(1 + |z|): softsign′ = (1 − |y|)², softsign′(0) = 1
        return y.abs() > 1 - math.sqrt(slope)
    if isinstance(module, nn.Hardtanh):  # slope 0 outside [min_val, max_val]
        return (y <= module.min_val) | (y >= module.max_val)
    return (y <= 0) | (y >= 1)  # Hardsigmoid: slope 0 where it is clipped to 0 or 1


def _role(module: torch.nn.Module, own: list[torch.nn.Parameter]) -> str:
    import torch.nn as nn

    if _activation_kind(module) is not None:
        return "activation"
    norms = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm) + (
        (nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()
    )
    if isinstance(module, norms):
        return "norm"
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return "embedding"  # only the looked-up rows get a gradient: not comparable with dense layers
    if any(p.dim() >= 2 for p in own):
        return "weight"
    return "other"


def _norm(tensors: list[torch.Tensor]) -> float:
    import torch

    return math.sqrt(sum(float(t.detach().to(torch.float64).pow(2).sum()) for t in tensors))


def _compute_loss(model: torch.nn.Module, batch: Any, loss_fn: Callable[..., Any]) -> torch.Tensor:
    import torch

    if isinstance(loss_fn, torch.nn.modules.loss._Loss):  # a criterion such as nn.CrossEntropyLoss(): batch = (x, y)
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise UserError(f"with a criterion such as {type(loss_fn).__name__}, the batch must be (inputs, targets)")
        loss = loss_fn(model(batch[0]), batch[1])
    else:
        loss = loss_fn(model, batch)
    if not isinstance(loss, torch.Tensor):
        raise UserError(f"the loss function must return a scalar tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise UserError(
            f"the loss must be a scalar, got a tensor of shape {tuple(loss.shape)} (reduce it, e.g. .mean())"
        )
    if not loss.is_floating_point() or not loss.requires_grad:
        raise UserError("the loss does not depend on any parameter that requires grad")
    return loss.reshape(())


def diagnose(
    model: torch.nn.Module,
    batch: Any,
    loss_fn: Callable[..., Any],
    *,
    thresholds: Thresholds | None = None,
) -> Report:
    """Run one forward/backward pass of ``loss_fn(model, batch)`` and report per-layer statistics and problems.

    ``loss_fn(model, batch)`` returns the scalar loss; a torch criterion (``nn.CrossEntropyLoss()``) is also accepted,
    with ``batch = (inputs, targets)``. Exceptions from the model or the loss propagate; hooks are removed either way.
    """
    import torch

    thresholds = thresholds or Thresholds()
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"the model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise UserError(f"the loss function must be callable, got {type(loss_fn).__name__}")

    modules = dict(model.named_modules())
    owner: dict[int, str] = {}  # parameter id -> the first module that owns it (tied weights are counted once)
    own_params: dict[str, list[torch.nn.Parameter]] = {}
    for name, module in modules.items():
        own_params[name] = []
        for p in module.parameters(recurse=False):
            if id(p) not in owner:
                owner[id(p)] = name
                own_params[name].append(p)
    watched = [n for n, m in modules.items() if own_params[n] or _activation_kind(m) is not None]
    if not any(p.requires_grad for ps in own_params.values() for p in ps):
        raise UserError("the model has no parameter that requires grad")

    acc = {name: _Accumulator() for name in watched}
    counter = iter(range(10**9))
    handles: list[Any] = []
    tensor_handles: list[Any] = []

    def pre_hook(name: str) -> Callable[..., None]:
        def hook(module: torch.nn.Module, args: Any) -> None:
            a = acc[name]
            if a.order is None:  # a pre-hook fires on entry: a container precedes the layers inside it
                a.order = next(counter)

        return hook

    def post_hook(name: str, module: torch.nn.Module) -> Callable[..., None]:
        kind = _activation_kind(module)

        def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
            a = acc[name]
            a.calls += 1
            y = _first_tensor(output)
            if y is None:
                return
            a.add_activation(y)  # now: an in-place op that follows (ReLU(inplace=True)) would change y
            if kind == "saturating":
                a.add_saturation(_saturated(module, y, thresholds.saturation_slope))
            elif kind == "dead":
                a.add_alive(y)
            if y.requires_grad:
                tensor_handles.append(y.register_hook(lambda g: a.add_grad(g)))

        return hook

    check_device(model)
    root_output: list[torch.Tensor] = []  # the model's output, for the initial-loss check
    recurrent_inputs: dict[str, torch.Tensor] = {}  # the first input of each nn.RNN/LSTM/GRU, for the time check

    def root_hook(module: torch.nn.Module, args: Any, output: Any) -> None:
        y = _first_tensor(output)
        if not root_output and y is not None:
            root_output.append(y.detach())

    def recurrent_hook(name: str) -> Callable[..., None]:
        def hook(module: torch.nn.Module, args: Any) -> None:
            if name not in recurrent_inputs and args and isinstance(args[0], torch.Tensor):
                recurrent_inputs[name] = args[0].detach()

        return hook

    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        for name in watched:
            module = modules[name]
            handles.append(module.register_forward_pre_hook(pre_hook(name)))
            handles.append(module.register_forward_hook(post_hook(name, module)))
            if isinstance(module, torch.nn.RNNBase):
                handles.append(module.register_forward_pre_hook(recurrent_hook(name)))
        handles.append(model.register_forward_hook(root_hook))
        with torch.random.fork_rng(devices=[]):  # dropout inside the pass must not shift the reader's random stream
            loss = _compute_loss(model, batch, loss_fn)
            params = [p for name in watched for p in own_params[name] if p.requires_grad]
            grads = torch.autograd.grad(loss, params, allow_unused=True)
    finally:
        for handle in handles + tensor_handles:
            handle.remove()
        with torch.no_grad():  # BatchNorm in training mode updated its running statistics: put them back
            for buffer, saved in buffers:
                buffer.copy_(saved)

    grad_of = {id(p): g for p, g in zip(params, grads, strict=True)}
    rows = [_row(name, modules[name], own_params[name], acc[name], grad_of) for name in watched]
    rows = _forward_order(rows, acc)
    for row in rows:
        module = modules[row.name]
        if isinstance(module, torch.nn.RNNBase):
            row.spectral_radius = _spectral_radius(module)
            if row.name in recurrent_inputs:
                with torch.random.fork_rng(devices=[]):
                    row.time_grad_ratio = _time_grad_ratio(module, recurrent_inputs[row.name])
    report = Report(loss=float(loss.detach()), layers=rows, flags=[], thresholds=thresholds)
    report.flags = find_flags(report.loss, rows, thresholds)
    if root_output:
        _output_check(report, root_output[0], batch)
    from gradnotes.diagnose.findings import find_findings

    report.findings = find_findings(report)
    return report


def check_device(model: torch.nn.Module) -> None:
    """A one-line error for parameters on a device this machine lacks, or on ``meta`` (shapes without data)."""
    import torch

    for p in model.parameters():
        kind = p.device.type
        if kind == "meta":
            raise UserError("the model's parameters are on the meta device (shapes only, no data): build it on 'cpu'")
        if kind == "cpu":
            continue
        backend = getattr(torch, kind, None)
        if backend is None or not hasattr(backend, "is_available") or not backend.is_available():
            raise UserError(f"the model is on {p.device}, which this machine lacks: build it on 'cpu'")


def _spectral_radius(module: torch.nn.Module) -> float | None:
    """The largest |eigenvalue| over the square hidden-to-hidden blocks (one per gate) of every layer and direction."""
    import torch

    radius = None
    for name, p in module.named_parameters(recurse=False):
        if not name.startswith("weight_hh") or p.dim() != 2:
            continue
        size = p.shape[1]
        for block in p.detach().to(torch.float64).split(size, dim=0):
            if block.shape[0] == size:
                r = float(torch.linalg.eigvals(block).abs().max())
                radius = r if radius is None else max(radius, r)
    return radius


def _time_grad_ratio(module: torch.nn.Module, x: torch.Tensor) -> float | None:
    """How much of the last output's gradient reaches the first time step: ‖∂(v·h_T)/∂x_1‖ / ‖∂(v·h_T)/∂x_T‖.

    The recurrence runs inside the fused module, so the hooks never see it; this reruns the module itself on its
    recorded input with a fixed random direction v. Parameters' ``.grad`` is untouched (``autograd.grad`` on x only).
    """
    import torch

    time_dim = 1 if getattr(module, "batch_first", False) and x.dim() == 3 else 0
    if x.dim() < 2 or x.shape[time_dim] < 2 or not x.is_floating_point():
        return None
    x = x.clone().requires_grad_(True)
    with torch.enable_grad():
        out = _first_tensor(module(x))
        if out is None:
            return None
        last = out.select(time_dim, out.shape[time_dim] - 1)
        direction = torch.randn(last.shape, generator=torch.Generator().manual_seed(0)).to(last)
        (grad,) = torch.autograd.grad((last * direction).sum(), x)
    first_norm = float(grad.select(time_dim, 0).norm())
    last_norm = float(grad.select(time_dim, x.shape[time_dim] - 1).norm())
    return first_norm / last_norm if last_norm > 0 and math.isfinite(last_norm) else None


def _output_check(report: Report, output: torch.Tensor, batch: Any) -> None:
    """If the loss is cross-entropy on the model's output, note C and ln C: at initialisation the loss should be ≈ ln C.

    Recognised by recomputing ``F.cross_entropy(output, targets)`` and finding the reported loss (Karpathy, makemore
    part 3: "the initial loss should be −ln(1/C)").
    """
    import torch
    import torch.nn.functional as F

    if not (isinstance(batch, (tuple, list)) and len(batch) >= 2 and isinstance(batch[1], torch.Tensor)):
        return
    target = batch[1]
    if target.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8) or not output.is_floating_point():
        return
    if output.dim() < 2 or output.numel() != target.numel() * output.shape[-1] or target.numel() == 0:
        return
    classes = output.shape[-1]
    logits = output.reshape(-1, classes).to(torch.float64)
    target = target.reshape(-1).long()
    if classes < 2 or int(target.min()) < 0 or int(target.max()) >= classes:
        return
    finite = torch.isfinite(logits).all()
    loss = float(F.cross_entropy(logits, target)) if finite else math.nan
    if finite and not math.isclose(loss, report.loss, rel_tol=1e-3, abs_tol=1e-4):
        return  # another loss (or a weighted one): no ln C to compare with
    if not finite and math.isfinite(report.loss):
        return
    report.num_classes = classes
    report.chance_loss = math.log(classes)
    report.logit_std = float(logits.std()) if finite else math.nan


def _row(
    name: str,
    module: torch.nn.Module,
    own: list[torch.nn.Parameter],
    a: _Accumulator,
    grad_of: dict[int, torch.Tensor | None],
) -> LayerStats:
    role = _role(module, own)
    kind = _activation_kind(module)
    row = LayerStats(
        name=name, kind=type(module).__name__, role=role, calls=a.calls, parameters=sum(p.numel() for p in own)
    )
    if a.count:
        row.act_mean = a.mean
        row.act_std = math.sqrt(a.m2 / a.count) if math.isfinite(a.m2) else math.nan
        row.nonfinite_activations = a.nonfinite
    # A layer whose output holds NaN/inf has no meaningful saturated or dead fraction (NaN > 0 is False: "100 % dead")
    if kind == "saturating" and a.saturation_count and not a.nonfinite:
        row.saturated_fraction = a.saturated / a.saturation_count
    if kind == "dead" and a.alive is not None and a.dead_defined and not a.nonfinite:
        row.dead_fraction = 1.0 - float(a.alive.float().mean())
    _model_facts(row, module)
    if a.grad_count:
        row.out_grad_rms = math.sqrt(a.grad_sq / a.grad_count)
    with_grad = [(p, grad_of[id(p)]) for p in own if grad_of.get(id(p)) is not None]
    if with_grad:
        import torch

        row.grad_norm = _norm([g for _, g in with_grad])
        row.nonfinite_gradients = sum(int((~torch.isfinite(g)).sum()) for _, g in with_grad)
        weights = [(p, g) for p, g in with_grad if p.dim() >= 2] or with_grad
        row.weight_norm = _norm([p for p, _ in weights])
        row.weight_grad_norm = _norm([g for _, g in weights])
        row.grad_data_ratio = (
            row.weight_grad_norm / row.weight_norm if row.weight_norm > 0 else None
        )  # zero-initialised W: no ratio
    return row


def _model_facts(row: LayerStats, module: torch.nn.Module) -> None:
    """Fan-in/out, weight std and bias mean of a layer with a ``weight`` of ≥ 2 dimensions (Linear, Conv, ...)."""
    import torch

    weight = getattr(module, "weight", None)
    if row.role != "weight" or not isinstance(weight, torch.Tensor) or weight.dim() < 2 or weight.numel() < 2:
        return
    row.fan_in, row.fan_out = torch.nn.init._calculate_fan_in_and_fan_out(weight)
    row.weight_std = float(weight.detach().to(torch.float64).std())
    bias = getattr(module, "bias", None)
    if isinstance(bias, torch.Tensor) and bias.numel():
        row.bias_mean = float(bias.detach().to(torch.float64).mean())


def _forward_order(rows: list[LayerStats], acc: dict[str, _Accumulator]) -> list[LayerStats]:
    """Rows sorted by first call; a module never called (MultiheadAttention's out_proj) goes after its caller."""

    def key(row: LayerStats) -> tuple[float, str]:
        name = row.name
        while True:
            order = acc[name].order if name in acc else None
            if order is not None:
                return (order + (0.5 if name != row.name else 0.0), row.name)
            if not name:
                return (math.inf, row.name)
            name = name.rpartition(".")[0]

    return sorted(rows, key=key)
