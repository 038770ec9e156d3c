"""The standard grid and its benchmark: engine FLOP rate against a plain batched matmul of the same shapes."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from typing import Any

from gradnotes.engine.spec import CORE_ACTIVATIONS, CORE_INITS, NORMS, Spec

GRID_SEEDS = (0, 1, 2, 3, 4)


def grid_specs(
    *,
    activations: Sequence[str] = CORE_ACTIVATIONS,
    inits: Sequence[str] = CORE_INITS,
    norms: Sequence[str] = NORMS,
    seeds: Iterable[int] = GRID_SEEDS,
    **fields: Any,
) -> list[Spec]:
    """Every (activation, init, norm, seed) combination; other Spec fields from ``fields`` or the defaults."""
    seeds = tuple(seeds)
    return [
        Spec(activation=a, init=i, norm=n, seed=s, **fields)
        for a, i, n, s in itertools.product(activations, inits, norms, seeds)
    ]


def matmul_flops(spec: Spec) -> float:
    """Floating-point operations of the matmuls of one forward+backward pass.

    Per layer: forward a = h W^T, dL/dW = delta^T h, and dL/dh = delta W (not needed for layer 1: x is no parameter).
    """
    per_matmul = 2.0 * spec.batch * spec.width * spec.width
    return per_matmul * (3 * spec.depth - 1)


def reference_rate(members: int, batch: int, width: int, dtype: str, seconds: float = 2.0) -> float:
    """FLOP/s of plain torch.bmm on (members, batch, width) x (members, width, width), in the engine's settings."""
    import torch

    from gradnotes.engine.sim import engine_settings, threads_for

    spec = Spec(batch=batch, width=width, depth=1, dtype=dtype)
    generator = torch.Generator().manual_seed(0)
    left = torch.randn(members, batch, width, generator=generator, dtype=getattr(torch, dtype))
    right = torch.randn(members, width, width, generator=generator, dtype=getattr(torch, dtype))
    flops = 2.0 * members * batch * width * width
    with engine_settings(threads_for(spec)):
        torch.bmm(left, right)  # warm-up: first-touch of the output buffer, BLAS initialisation
        calls, start = 0, time.perf_counter()
        while True:
            torch.bmm(left, right)
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds and calls >= 3:
                return calls * flops / elapsed


def run_bench(specs: Sequence[Spec]) -> dict[str, Any]:
    """Run the specs cold (no cache) and compare the engine's matmul FLOP rate with plain bmm in this process."""
    from gradnotes.engine.sim import MAX_MEMBERS, run_many

    start, cpu_start = time.perf_counter(), time.process_time()
    run_many(specs)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    flops = sum(matmul_flops(spec) for spec in specs)
    first = specs[0]
    # the grid's batched groups hold (inits x seeds) members; compare with bmm of that very shape
    members = min(MAX_MEMBERS, len({(s.init, s.seed) for s in specs}))
    reference = reference_rate(members, first.batch, first.width, first.dtype)
    engine_rate = flops / wall
    return {
        "runs": len(specs),
        "wall_seconds": wall,
        # CPU seconds of all threads: on a shared machine wall time measures the neighbours as much as the engine
        "cpu_seconds": cpu,
        "matmul_gflop": flops / 1e9,
        "engine_gflops": engine_rate / 1e9,
        "reference_bmm_gflops": reference / 1e9,
        "ratio": engine_rate / reference,
        "shape": {"members": members, "batch": first.batch, "width": first.width, "depth": first.depth},
    }
