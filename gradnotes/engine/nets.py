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

_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": functools.partial(F.leaky_relu, negative_slope=LEAKY_SLOPE),
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
}
_MODULES: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": functools.partial(nn.LeakyReLU, negative_slope=LEAKY_SLOPE),
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
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


def init_weight_(weight: Tensor, init: str, generator: torch.Generator) -> Tensor:
    """Fill a (fan_out, fan_in) weight in place with torch.nn.init, drawing from ``generator``."""
    init_fns: dict[str, Callable[[], Tensor]] = {
        "standard_normal": lambda: nn.init.normal_(weight, 0.0, 1.0, generator=generator),
        "small_normal": lambda: nn.init.normal_(weight, 0.0, 0.01, generator=generator),
        "xavier_uniform": lambda: nn.init.xavier_uniform_(weight, gain=1.0, generator=generator),
        "xavier_normal": lambda: nn.init.xavier_normal_(weight, gain=1.0, generator=generator),
        "he_uniform": lambda: nn.init.kaiming_uniform_(
            weight, a=0.0, mode="fan_in", nonlinearity="relu", generator=generator
        ),
        "he_normal": lambda: nn.init.kaiming_normal_(
            weight, a=0.0, mode="fan_in", nonlinearity="relu", generator=generator
        ),
        # exactly nn.Linear.reset_parameters: U(+-1/sqrt(fan_in)), the "old" init of Glorot & Bengio's paper
        "torch_default": lambda: nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator),
        "orthogonal": lambda: nn.init.orthogonal_(weight, gain=1.0, generator=generator),
        # LeCun normal: N(0, 1/fan_in); torch spells it kaiming_normal_ with the linear gain
        "lecun_normal": lambda: nn.init.kaiming_normal_(
            weight, mode="fan_in", nonlinearity="linear", generator=generator
        ),
    }
    if init not in init_fns:
        raise UserError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
    return init_fns[init]()


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
