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


def _bmm_rate(members: int, batch: int, width: int, dtype: str, threads: int, seconds: float) -> float:
    """FLOP/s of plain torch.bmm with ``threads`` threads on the engine's own matmuls of one layer: the forward
    a = h W^T, and the backward's dL/dh = delta W and dL/dW = delta^T h, with the engine's memory layouts."""
    import torch

    from gradnotes.engine.sim import engine_settings

    generator = torch.Generator().manual_seed(0)
    kind = getattr(torch, dtype)
    h = torch.randn(members, batch, width, generator=generator, dtype=kind)
    delta = torch.randn(members, batch, width, generator=generator, dtype=kind)
    weight = torch.randn(members, width, width, generator=generator, dtype=kind)

    def layer() -> None:
        torch.bmm(h, weight.mT)
        torch.bmm(delta, weight)
        torch.bmm(delta.mT, h)

    flops = 3 * 2.0 * members * batch * width * width
    with engine_settings(threads):
        layer()  # warm-up: first-touch of the output buffers, BLAS initialisation
        calls, start = 0, time.perf_counter()
        while True:
            layer()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds and calls >= 3:
                return calls * flops / elapsed


def cores() -> int:
    """CPUs this process may run on."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def reference_rate(members: int, batch: int, width: int, dtype: str, seconds: float = 2.0) -> dict[str, float]:
    """The best FLOP/s this machine reaches on plain bmm doing the grid's matmuls with all its cores, three ways: one
    process with one thread, one process with every core's thread, and one single-threaded process per core at once
    (their rates summed). ``best`` is the largest."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    n = cores()
    rates = {
        "one_thread": _bmm_rate(members, batch, width, dtype, 1, seconds),
        "threads": _bmm_rate(members, batch, width, dtype, n, seconds),
    }
    if n > 1:
        with ProcessPoolExecutor(n, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_bmm_rate, members, batch, width, dtype, 1, seconds) for _ in range(n)]
            rates["processes"] = sum(f.result() for f in futures)
    rates["best"] = max(rates.values())
    return rates


def _run_share(specs: Sequence[Spec]) -> None:
    from gradnotes.engine.nets import threads
    from gradnotes.engine.sim import run_many

    with threads(1):
        run_many(specs)


def run_parallel(specs: Sequence[Spec], workers: int) -> None:
    """Simulate the specs in ``workers`` single-threaded processes (spawned), each a share of the batched groups,
    balanced by FLOPs. On this machine's small matmuls, one thread per core in separate processes beats one
    process's threads (``gradnotes bench`` measures both). Results are not returned: this is the benchmark's runner."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from gradnotes.engine.sim import _group_key

    groups: dict[tuple, list[Spec]] = {}
    for spec in dict.fromkeys(specs):
        groups.setdefault(_group_key(spec), []).append(spec)
    # keep groups whose members share draws together (the same sizes): the cheap sort of run_many
    shares: list[list[Spec]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for members in sorted(groups.values(), key=lambda g: -sum(matmul_flops(s) for s in g)):
        k = load.index(min(load))
        shares[k].extend(members)
        load[k] += sum(matmul_flops(s) for s in members)
    if workers == 1:
        _run_share(shares[0])
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        for future in [pool.submit(_run_share, share) for share in shares if share]:
            future.result()


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished worker processes."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run_bench(specs: Sequence[Spec], *, seconds: float = 2.0) -> dict[str, Any]:
    """Run the specs cold (no cache), one single-threaded process per core, and compare the FLOP rate with the best
    plain bmm on the same shapes that this machine reaches with all its cores."""
    from gradnotes.engine.sim import MAX_MEMBERS

    workers = cores()
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    run_parallel(specs, workers)
    wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    flops = sum(matmul_flops(spec) for spec in specs)
    first = specs[0]
    # the grid's batched groups hold (inits x seeds) members; compare with bmm of that very shape
    members = min(MAX_MEMBERS, len({(s.init, s.seed) for s in specs}))
    reference = reference_rate(members, first.batch, first.width, first.dtype, seconds=seconds)
    engine_rate = flops / wall
    return {
        "runs": len(specs),
        "wall_seconds": wall,
        # CPU seconds of all threads and worker processes: on a shared machine wall time measures the neighbours too
        "cpu_seconds": cpu,
        "workers": workers,
        "matmul_gflop": flops / 1e9,
        "engine_gflops": engine_rate / 1e9,
        "reference_bmm_gflops": reference["best"] / 1e9,
        "reference": {way: rate / 1e9 for way, rate in reference.items()},
        "ratio": engine_rate / reference["best"],
        "shape": {"members": members, "batch": first.batch, "width": first.width, "depth": first.depth},
    }
