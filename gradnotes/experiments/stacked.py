"""MLPs trained with SGD on the digits (``gradnotes.experiments.digits``), evaluated in eval mode.

Several networks that differ only in seed, init or learning rate train as one *stack*: weights are shaped
(members, fan_out, fan_in) and every layer is one batched matmul, which on a small CPU is several times faster than
looping over separate models. Each member is still an ordinary MLP: ``StackedMLP.member(k)`` returns it as an
``nn.Sequential`` of ``nn.Linear`` / ``nn.BatchNorm1d`` / ``nn.LayerNorm`` with the same numbers, and the tests check
that both give the same outputs and gradients. Weights are drawn with ``torch.nn.init`` from one ``torch.Generator``
per member, mini-batches from another, so a run is a pure function of its seeds.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gradnotes.engine.nets import activation_fn, activation_module, init_weight_
from gradnotes.errors import UserError
from gradnotes.experiments.digits import Digits

NORMS = ("none", "batchnorm", "layernorm")
BN_EPS = 1e-5


class StackedMLP(nn.Module):
    """``members`` independent MLPs (Linear → [norm] → activation, …, Linear) evaluated as one batched network.

    Input and output are (members, batch, features). With BatchNorm the hidden Linear layers have no bias (BN's β
    replaces it, as in Ioffe & Szegedy 2015); otherwise biases start at 0. ``nn.BatchNorm1d`` sees a
    (batch, members·width) view, which gives exactly per-member, per-unit batch statistics.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: str,
        inits: Sequence[str],
        seeds: Sequence[int],
        norm: str = "none",
    ) -> None:
        super().__init__()
        activation_fn(activation)  # an unknown name is a UserError listing the valid ones
        if norm not in NORMS:
            raise UserError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")
        if len(inits) != len(seeds) or not seeds:
            raise UserError("give one init per member seed")
        if len(sizes) < 2 or any(int(n) <= 0 for n in sizes):
            raise UserError(f"sizes must be at least two positive integers, got {list(sizes)!r}")
        self.sizes, self.activation, self.norm = [int(n) for n in sizes], activation, norm
        self.inits, self.seeds, self.members = list(inits), list(seeds), len(seeds)
        members = self.members
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.norms = nn.ModuleList()
        self.gains = nn.ParameterList()  # LayerNorm's per-member γ and β (nn.LayerNorm's affine cannot be per member)
        self.shifts = nn.ParameterList()
        generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
        last = len(self.sizes) - 2
        for layer, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=False)):
            # Stored transposed, (members, fan_in, fan_out), so that forward and backward need no transposes.
            weight = torch.empty(members, fan_in, fan_out)
            for k in range(members):
                init_weight_(weight[k].T, self.inits[k], generators[k])  # nn.init sees nn.Linear's (fan_out, fan_in)
            self.weights.append(nn.Parameter(weight))
            hidden = layer < last
            has_bias = not (hidden and norm == "batchnorm")
            self.biases.append(nn.Parameter(torch.zeros(members, 1, fan_out)) if has_bias else None)
            if hidden and norm == "batchnorm":
                self.norms.append(nn.BatchNorm1d(members * fan_out, eps=BN_EPS))
            elif hidden and norm == "layernorm":
                self.norms.append(nn.LayerNorm(fan_out, eps=BN_EPS, elementwise_affine=False))
                self.gains.append(nn.Parameter(torch.ones(members, 1, fan_out)))
                self.shifts.append(nn.Parameter(torch.zeros(members, 1, fan_out)))

    def linear(self, layer: int, h: Tensor) -> Tensor:
        """Layer ``layer``'s affine map for every member: (members, batch, fan_in) → (members, batch, fan_out)."""
        bias = self.biases[layer]
        return torch.bmm(h, self.weights[layer]) if bias is None else torch.baddbmm(bias, h, self.weights[layer])

    def normalize(self, layer: int, a: Tensor) -> Tensor:
        """Hidden layer ``layer``'s normalisation (identity without one)."""
        if self.norm == "batchnorm":
            members, batch, width = a.shape
            flat = a.transpose(0, 1).reshape(batch, members * width)
            return self.norms[layer](flat).reshape(batch, members, width).transpose(0, 1)
        if self.norm == "layernorm":
            return self.norms[layer](a) * self.gains[layer] + self.shifts[layer]
        return a

    def forward(self, x: Tensor, preactivations: list[Tensor] | None = None) -> Tensor:
        """Logits (members, batch, n_out); the inputs of every activation are appended to ``preactivations``."""
        h = x if x.dim() == 3 else x.expand(self.members, *x.shape)
        phi = activation_fn(self.activation)
        last = len(self.weights) - 1
        for layer in range(last):
            a = self.normalize(layer, self.linear(layer, h))
            if preactivations is not None:
                preactivations.append(a)
            h = phi(a)
        return self.linear(last, h)

    def layer_parameters(self) -> list[list[nn.Parameter]]:
        """The parameters of each layer: its weight, bias and the γ, β of the normalisation that follows it."""
        groups = []
        for layer, weight in enumerate(self.weights):
            group = [weight] + ([self.biases[layer]] if self.biases[layer] is not None else [])
            if layer < len(self.weights) - 1 and self.norm == "batchnorm":
                group += [self.norms[layer].weight, self.norms[layer].bias]
            elif layer < len(self.weights) - 1 and self.norm == "layernorm":
                group += [self.gains[layer], self.shifts[layer]]
            groups.append(group)
        return groups

    @contextlib.contextmanager
    def frozen_statistics(self) -> Iterator[None]:
        """Forward passes inside the block leave BatchNorm's running statistics as they were."""
        saved = [b.clone() for b in self.buffers()]
        try:
            yield
        finally:
            with torch.no_grad():
                for buffer, value in zip(self.buffers(), saved, strict=True):
                    buffer.copy_(value)

    @torch.no_grad()
    def probe(self, x: Tensor) -> list[Tensor]:
        """Every activation's input for ``x`` as training sees it (batch statistics), running statistics untouched."""
        was_training = self.training
        self.train()
        pre: list[Tensor] = []
        with self.frozen_statistics():
            self(x, pre)
        self.train(was_training)
        return pre

    def member(self, k: int) -> nn.Sequential:
        """Member ``k`` as an ordinary ``nn.Sequential`` (nn.Linear, nn.BatchNorm1d/nn.LayerNorm, activation)."""
        modules: list[nn.Module] = []
        last = len(self.weights) - 1
        with torch.no_grad():
            for layer, weight in enumerate(self.weights):
                fan_in, fan_out = weight.shape[1:]
                bias = self.biases[layer]
                linear = nn.Linear(fan_in, fan_out, bias=bias is not None)
                linear.weight.copy_(weight[k].T)
                if bias is not None:
                    linear.bias.copy_(bias[k, 0])
                modules.append(linear)
                if layer == last:
                    break
                if self.norm == "batchnorm":
                    stacked = self.norms[layer]
                    bn = nn.BatchNorm1d(fan_out, eps=BN_EPS)
                    part = slice(k * fan_out, (k + 1) * fan_out)
                    for name in ("weight", "bias", "running_mean", "running_var"):
                        getattr(bn, name).copy_(getattr(stacked, name)[part])
                    bn.num_batches_tracked.copy_(stacked.num_batches_tracked)
                    modules.append(bn)
                elif self.norm == "layernorm":
                    ln = nn.LayerNorm(fan_out, eps=BN_EPS)
                    ln.weight.copy_(self.gains[layer][k, 0])
                    ln.bias.copy_(self.shifts[layer][k, 0])
                    modules.append(ln)
                modules.append(activation_module(self.activation))
        model = nn.Sequential(*modules)
        return model.train(self.training)


def build_mlp(
    sizes: Sequence[int], *, activation: str, init: str = "he_normal", norm: str = "none", seed: int = 0
) -> nn.Sequential:
    """One ordinary MLP (nn.Linear, nn.BatchNorm1d/nn.LayerNorm, activation), initialised like a stack member."""
    return StackedMLP(sizes, activation=activation, inits=[init], seeds=[seed], norm=norm).member(0)


class BatchSampler:
    """Per-member mini-batches: a fresh permutation of the training set every epoch, from a seeded generator."""

    def __init__(self, n: int, batch_size: int, seeds: Sequence[int]) -> None:
        if not 0 < batch_size <= n:
            raise UserError(f"batch size must be between 1 and {n}, got {batch_size}")
        self.n, self.batch_size = n, batch_size
        self.generators = [torch.Generator().manual_seed(1_000_003 + int(seed)) for seed in seeds]
        self.orders = [torch.randperm(n, generator=g) for g in self.generators]
        self.position = 0

    def next(self) -> Tensor:
        """Indices (members, batch_size) of the next mini-batch of every member."""
        if self.position + self.batch_size > self.n:
            self.orders = [torch.randperm(self.n, generator=g) for g in self.generators]
            self.position = 0
        part = slice(self.position, self.position + self.batch_size)
        self.position += self.batch_size
        return torch.stack([order[part] for order in self.orders])


def member_losses(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of every member: logits (members, batch, classes), labels (members, batch) → (members,)."""
    members, batch, classes = logits.shape
    per_sample = F.cross_entropy(logits.reshape(-1, classes), labels.reshape(-1), reduction="none")
    return per_sample.view(members, batch).mean(1)


@torch.no_grad()
def evaluate(model: StackedMLP, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Loss and accuracy of every member in eval mode (BatchNorm uses its running statistics)."""
    was_training = model.training
    model.eval()
    logits = model(x)
    model.train(was_training)
    losses = member_losses(logits, y.expand(model.members, -1))
    accuracy = (logits.argmax(-1) == y).float().mean(1)
    return losses, accuracy


@dataclass
class History:
    """What a training run recorded, per member: mini-batch losses every step, test metrics at eval steps."""

    batch_loss: list[list[float]] = field(default_factory=list)  # [step][member]
    eval_steps: list[int] = field(default_factory=list)
    test_accuracy: list[list[float]] = field(default_factory=list)  # [eval][member]
    test_loss: list[list[float]] = field(default_factory=list)
    grad_norm: list[list[float]] = field(default_factory=list)  # [step][member], before clipping (with clip_norm only)


def member_grad_norms(model: nn.Module, members: int) -> Tensor:
    """The norm of every member's whole gradient, all its parameters together (as ``clip_grad_norm_`` measures it)."""
    squares = [p.grad.view(members, -1).pow(2).sum(1) for p in model.parameters() if p.grad is not None]
    return torch.stack(squares).sum(0).sqrt()


def scale_gradients_(model: nn.Module, members: int, factors: Tensor) -> None:
    """Multiply every member's gradients by its factor (every parameter is laid out member-major)."""
    for p in model.parameters():
        if p.grad is not None:
            p.grad.view(members, -1).mul_(factors.view(members, 1))


def train(
    model: StackedMLP,
    data: Digits,
    *,
    steps: int,
    batch_size: int,
    lr: float | Sequence[float],
    momentum: float = 0.9,
    clip_norm: float | None = None,
    batch_seeds: Sequence[int] | None = None,
    eval_every: int = 0,
    on_eval: Callable[[int], None] | None = None,
    update_every: int = 0,
    on_update: Callable[[int, Tensor, list[Tensor]], None] | None = None,
) -> History:
    """SGD on the digits training set; ``lr`` may differ per member. Deterministic for fixed seeds and threads.

    A per-member learning rate is applied by scaling that member's gradient and stepping with lr = 1: for SGD with
    momentum and a constant rate this is the same update (buf ← μ·buf + η·g, w ← w − buf).
    With ``clip_norm`` every member's gradient is first rescaled to norm ≤ clip_norm, as ``clip_grad_norm_`` on that
    member alone would; the norms before clipping are recorded in ``History.grad_norm``.
    Every ``update_every`` steps ``on_update(step, batch_index, parameters_before)`` runs right after the update,
    with the step's gradients still in ``p.grad``.
    """
    members = model.members
    rates = torch.tensor([float(lr)] * members if isinstance(lr, (int, float)) else [float(r) for r in lr])
    if len(rates) != members:
        raise UserError(f"give one learning rate per member ({members}), got {len(rates)}")
    if clip_norm is not None and not clip_norm > 0:
        raise UserError(f"clip_norm must be positive, got {clip_norm}")
    uniform = bool((rates == rates[0]).all())
    # foreach: one fused kernel per step instead of one per parameter (CPU SGD defaults to the per-parameter loop).
    optimizer = torch.optim.SGD(
        model.parameters(), lr=float(rates[0]) if uniform else 1.0, momentum=momentum, foreach=True
    )
    sampler = BatchSampler(len(data.y_train), batch_size, batch_seeds if batch_seeds is not None else model.seeds)
    history = History()

    def record(step: int) -> None:
        loss, accuracy = evaluate(model, data.x_test, data.y_test)
        history.eval_steps.append(step)
        history.test_loss.append(loss.tolist())
        history.test_accuracy.append(accuracy.tolist())
        if on_eval is not None:
            on_eval(step)

    model.train()
    if eval_every:
        record(0)
    for step in range(1, steps + 1):
        index = sampler.next()
        losses = member_losses(model(data.x_train[index]), data.y_train[index])
        optimizer.zero_grad()
        losses.sum().backward()  # members are independent: d(sum)/d(member's weights) = that member's gradient
        if clip_norm is not None:
            norms = member_grad_norms(model, members)
            history.grad_norm.append(norms.tolist())
            scale_gradients_(model, members, (clip_norm / (norms + 1e-6)).clamp(max=1.0))  # clip_grad_norm_'s factor
        if not uniform:
            scale_gradients_(model, members, rates)
        watch = on_update is not None and update_every and (step - 1) % update_every == 0
        before = [p.detach().clone() for p in model.parameters()] if watch else []
        optimizer.step()
        if watch:
            on_update(step, index, before)
        history.batch_loss.append(losses.detach().tolist())
        if eval_every and (step % eval_every == 0 or step == steps):
            record(step)
    return history


def rounded(values: Sequence[float]) -> list[float]:
    """A series rounded to 6 significant digits for the figure data; NaN and inf are kept (they are data)."""
    return [float(f"{v:.6g}") if math.isfinite(v) else float(v) for v in values]
