"""The one table of activations and initialisations (torch functions, ``nn`` modules, ``torch.nn.init`` calls), and
the one ``threads(n)`` context manager. The simulator, the theory and the digits experiments all read these."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gradnotes.engine.spec import INITS, LEAKY_SLOPE
from gradnotes.errors import UserError


def centered_sigmoid(x: Tensor) -> Tensor:
    """sigma(x) - 1/2, the sigmoid shifted to zero mean (LeCun et al. 1998, section 4.4).

    Computed as the identical tanh(x/2)/2: sigmoid(x) - 0.5 cancels to exactly 0 for |x| < 1e-16 in float64, so a
    vanishing signal would vanish to zero instead of to a small number.
    """
    return 0.5 * torch.tanh(0.5 * x)


class CenteredSigmoid(nn.Module):
    """``nn.Sigmoid`` minus 1/2, as a module (torch has none)."""

    def forward(self, x: Tensor) -> Tensor:
        return centered_sigmoid(x)


_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": functools.partial(F.leaky_relu, negative_slope=LEAKY_SLOPE),
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
    "centered_sigmoid": centered_sigmoid,
}
_MODULES: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": functools.partial(nn.LeakyReLU, negative_slope=LEAKY_SLOPE),
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "centered_sigmoid": CenteredSigmoid,
}


def activation_fn(name: str) -> Callable[[Tensor], Tensor]:
    """The torch function for an activation name."""
    if name not in _FUNCTIONS:
        raise UserError(f"unknown activation {name!r}; valid: {', '.join(_FUNCTIONS)}")
    return _FUNCTIONS[name]


def activation_module(name: str) -> nn.Module:
    """A new ``nn`` module for an activation name (what an ordinary ``nn.Sequential`` would hold)."""
    if name not in _MODULES:
        raise UserError(f"unknown activation {name!r}; valid: {', '.join(_MODULES)}")
    return _MODULES[name]()


def init_weight_(weight: Tensor, init: str, generator: torch.Generator, gain: float = 1.0) -> Tensor:
    """Fill a (fan_out, fan_in) weight in place with torch.nn.init, drawing from ``generator``.

    ``gain`` multiplies the standard deviation (and the bounds): passed to the inits that take one (xavier_*,
    orthogonal_), given as the std of normal_, and applied to the draws of kaiming_* (whose gain is the
    nonlinearity's). A gain of 1 leaves every init exactly as torch draws it.
    """
    init_fns: dict[str, Callable[[], Tensor]] = {
        "standard_normal": lambda: nn.init.normal_(weight, 0.0, 1.0 * gain, generator=generator),
        "small_normal": lambda: nn.init.normal_(weight, 0.0, 0.01 * gain, generator=generator),
        "xavier_uniform": lambda: nn.init.xavier_uniform_(weight, gain=gain, generator=generator),
        "xavier_normal": lambda: nn.init.xavier_normal_(weight, gain=gain, generator=generator),
        "he_uniform": lambda: nn.init.kaiming_uniform_(
            weight, a=0.0, mode="fan_in", nonlinearity="relu", generator=generator
        ),
        "he_normal": lambda: nn.init.kaiming_normal_(
            weight, a=0.0, mode="fan_in", nonlinearity="relu", generator=generator
        ),
        # exactly nn.Linear.reset_parameters: U(+-1/sqrt(fan_in)), the "old" init of Glorot & Bengio's paper
        "torch_default": lambda: nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator),
        "orthogonal": lambda: nn.init.orthogonal_(weight, gain=gain, generator=generator),
        # LeCun normal: N(0, 1/fan_in); torch spells it kaiming_normal_ with the linear gain
        "lecun_normal": lambda: nn.init.kaiming_normal_(
            weight, mode="fan_in", nonlinearity="linear", generator=generator
        ),
    }
    if init not in init_fns:
        raise UserError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
    filled = init_fns[init]()
    if gain != 1.0 and init in ("he_uniform", "he_normal", "torch_default", "lecun_normal"):
        with torch.no_grad():
            filled.mul_(gain)  # kaiming_*'s own gain is the nonlinearity's: scale what it drew
    return filled


# ------------------------------------------------------------------------------------------------- threads

_FIXED_THREADS: contextvars.ContextVar[int | None] = contextvars.ContextVar("gradnotes_threads", default=None)


@contextlib.contextmanager
def threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch threads, and make the engine use exactly that many inside it.

    Reductions split per thread, so bits are reproducible only for a fixed count: the figure build wraps every
    ``compute()`` in ``threads(1)`` (two build workers then never oversubscribe two cores either).
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise UserError(f"threads must be a positive integer, got {count!r}")
    previous = torch.get_num_threads()
    token = _FIXED_THREADS.set(count)
    torch.set_num_threads(count)
    try:
        yield
    finally:
        _FIXED_THREADS.reset(token)
        torch.set_num_threads(previous)


def fixed_threads() -> int | None:
    """The count set by an enclosing ``threads(n)``, or None."""
    return _FIXED_THREADS.get()
