"""``gradnotes bench-norm``: what BatchNorm and LayerNorm cost in wall time, for training and for inference.

Wall times depend on the machine, so they are measured once by this command and committed as
``figures/data/bn_cost.json`` with a description of the machine; the ``bn_cost`` figure only reads that file,
through ``load_measurement`` (the one reader, beside the one writer ``bench``), which keeps the site build
deterministic. Each timing is the median of many repeats, with the variants interleaved
in every repeat so that a busy machine slows them alike, and a fixed torch thread count.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gradnotes import keys, paths
from gradnotes.errors import UserError

if TYPE_CHECKING:  # torch is imported where it is used, so that `gradnotes --help` stays fast
    import torch
    from torch import nn

# Two sizes: a digits-sized MLP (per-call overhead dominates) and a wider one (arithmetic dominates).
SIZES = {
    "small": {"n_in": 64, "width": 128, "hidden_layers": 4, "batch": 128},
    "large": {"n_in": 512, "width": 512, "hidden_layers": 4, "batch": 128},
}
TRAIN_VARIANTS = ("none", "batchnorm", "layernorm")
INFER_VARIANTS = ("none", "batchnorm", "batchnorm_folded", "layernorm")
TARGET_SECONDS = 0.02  # each timed block runs long enough to dwarf the timer's resolution
FORMAT_VERSION = 2
# The document's schema, shared by the writer (bench) and the reader (load_measurement).
CLOCKS = ("wall_ms", "cpu_ms", "wall_ratio_to_none", "cpu_ratio_to_none")  # per variant and phase
SUMMARY = ("median", "q25", "q75")  # per clock
SIZE_FIELDS = ("n_in", "width", "hidden_layers", "batch")
MACHINE_FIELDS = ("cpu", "logical_cores", "torch", "torch_threads", "python", "system", "date")


def default_output() -> Path:
    """Where the figure reads the measurement: ``figures/data/bn_cost.json``."""
    return paths.figures_dir() / "data" / "bn_cost.json"


def machine() -> dict[str, str | int]:
    """A description of the machine the numbers belong to."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "logical_cores": os.cpu_count() or 0,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "date": datetime.date.today().isoformat(),
    }


def _models(size: dict[str, int], seed: int) -> dict[str, nn.Sequential]:
    from gradnotes.experiments import stacked  # the same MLP builder as the digits experiments

    sizes = [size["n_in"]] + [size["width"]] * size["hidden_layers"] + [10]
    return {
        norm: stacked.build_mlp(sizes, activation="relu", init="he_normal", norm=norm, seed=seed)
        for norm in TRAIN_VARIANTS
    }


def _timer(fn: Callable[[], object]) -> tuple[Callable[[], tuple[float, float]], int]:
    """A function returning (wall ms, thread CPU ms) per call of ``fn``, averaged over enough calls for
    ~TARGET_SECONDS. With one torch thread the work runs on the calling thread, so its CPU time leaves out the time
    the process waited for a core on a shared machine; wall time is what a user waits."""
    fn()  # warm-up: first calls allocate and pick kernels
    start = time.perf_counter()
    fn()
    single = max(time.perf_counter() - start, 1e-6)
    inner = max(1, round(TARGET_SECONDS / single))

    def measure() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in range(inner):
            fn()
        return (time.perf_counter() - wall) * 1e3 / inner, (time.thread_time() - cpu) * 1e3 / inner

    return measure, inner


def _summary(samples: list[float]) -> dict[str, float]:
    quartiles = statistics.quantiles(samples, n=4)
    values = (statistics.median(samples), quartiles[0], quartiles[2])
    return {name: round(value, 5) for name, value in zip(SUMMARY, values, strict=True)}


def _interleaved(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict]:
    """Time every call ``repeats`` times, one round over all variants per repeat: medians and quartiles of the wall
    and CPU milliseconds per call, and of each round's ratio to the "none" variant."""
    timers = {name: _timer(fn) for name, fn in calls.items()}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, (measure, _) in timers.items():  # a busy machine slows every variant of a round alike
            samples[name].append(measure())
    result: dict[str, dict] = {}
    for name in calls:
        entry: dict = {"calls_per_sample": timers[name][1]}
        for k, clock in enumerate(("wall", "cpu")):
            own = [sample[k] for sample in samples[name]]
            base = [sample[k] for sample in samples["none"]]
            entry[f"{clock}_ms"] = _summary(own)
            # Within a round the variants ran back to back: the ratio cancels most of the machine's drift.
            entry[f"{clock}_ratio_to_none"] = _summary([a / b for a, b in zip(own, base, strict=True)])
        result[name] = entry
    return result


def _train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    import torch
    import torch.nn.functional as F

    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step() -> None:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    return step


def _forward(model: nn.Module, x: torch.Tensor) -> Callable[[], object]:
    return lambda: model(x)


def bench_size(size: dict[str, int], repeats: int, generator: torch.Generator, seed: int = 0) -> dict:
    """Training-step and inference times of one MLP size with each normalisation; BN also folded for inference."""
    import torch

    from gradnotes.experiments import fold

    models = _models(size, seed)
    x = torch.randn(size["batch"], size["n_in"], generator=generator)
    y = torch.randint(0, 10, (size["batch"],), generator=generator)
    for model in models.values():
        model.train()
    train_result = _interleaved({norm: _train_step(models[norm], x, y) for norm in TRAIN_VARIANTS}, repeats)
    inference = {
        "none": models["none"].eval(),
        "batchnorm": models["batchnorm"].eval(),  # running statistics, as at inference
        "batchnorm_folded": fold.fold_batchnorm(models["batchnorm"]),
        "layernorm": models["layernorm"].eval(),
    }
    with torch.no_grad():
        fold_error = float((inference["batchnorm_folded"](x) - inference["batchnorm"](x)).abs().max())
        infer_result = _interleaved({v: _forward(inference[v], x) for v in INFER_VARIANTS}, repeats)
    return {"size": size, "train": train_result, "inference": infer_result, "fold_max_abs_diff": fold_error}


def bench(repeats: int = 25, threads: int = 1, seed: int = 0) -> dict:
    """Measure every variant of every size; returns the JSON document that bn_cost.json holds."""
    import torch

    if repeats < 5:
        raise UserError(f"--repeats must be at least 5 for a median and quartiles, got {repeats}")
    if threads < 1:
        raise UserError(f"--threads must be a positive integer, got {threads}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        generator = torch.Generator().manual_seed(seed)
        results = {name: bench_size(size, repeats, generator, seed) for name, size in SIZES.items()}
        return {
            "format": FORMAT_VERSION,
            "machine": machine(),
            "settings": {"repeats": repeats, "threads": threads, "seed": seed, "optimizer": "SGD(momentum=0.9)"},
            "results": results,
        }
    finally:
        torch.set_num_threads(previous)


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where} is not a number ({value!r})")
    return float(value)


def _field(mapping: object, key: str, where: str) -> object:
    if not isinstance(mapping, dict) or key not in mapping:
        raise UserError(f"it lacks {where}.{key}" if where else f"it lacks {key!r}")
    return mapping[key]


def _validate(document: object) -> None:
    """Every field the bn_cost figure reads, present and of the right kind; raises UserError naming the first gap."""
    version = _field(document, "format", "")
    if version != FORMAT_VERSION:
        raise UserError(f"it has format {version!r}, this gradnotes reads format {FORMAT_VERSION}")
    machine = _field(document, "machine", "")
    for key in MACHINE_FIELDS:
        _field(machine, key, "machine")
    _number(_field(_field(document, "settings", ""), "threads", "settings"), "settings.threads")
    results = _field(document, "results", "")
    if not isinstance(results, dict) or not results:
        raise UserError("it has no results")
    for name, result in results.items():
        size = _field(result, "size", f"results.{name}")
        for key in SIZE_FIELDS:
            _number(_field(size, key, f"results.{name}.size"), f"results.{name}.size.{key}")
        _number(_field(result, "fold_max_abs_diff", f"results.{name}"), f"results.{name}.fold_max_abs_diff")
        for phase, variants in (("train", TRAIN_VARIANTS), ("inference", INFER_VARIANTS)):
            cells = _field(result, phase, f"results.{name}")
            for variant in variants:
                cell = _field(cells, variant, f"results.{name}.{phase}")
                for clock in CLOCKS:
                    where = f"results.{name}.{phase}.{variant}.{clock}"
                    summary = _field(cell, clock, where.rsplit(".", 1)[0])
                    for key in SUMMARY:
                        _number(_field(summary, key, where), f"{where}.{key}")


def load_measurement(path: Path | None = None) -> dict:
    """The measurement ``bench`` wrote (default ``figures/data/bn_cost.json``), checked against its schema.

    A missing, unreadable, garbled, incomplete or old-format file is a one-line UserError that says to re-measure.
    """
    path = Path(path) if path is not None else default_output()
    again = "run `gradnotes bench-norm` to measure it again"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path} is missing: run `gradnotes bench-norm` to measure it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} cannot be read ({exc}): {again}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON ({exc}): {again}") from None
    try:
        _validate(document)
    except UserError as exc:
        raise UserError(f"{path} is not a bench-norm measurement: {exc}; {again}") from None
    return document


def _cmd_bench_norm(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else default_output()
    if out.is_dir():
        raise UserError(f"--out {out} is a directory; give a file path")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: the folder {out.parent} does not exist")
    document = bench(repeats=args.repeats, threads=args.threads)
    keys.write_if_changed(out, json.dumps(document, indent=1, sort_keys=True) + "\n")
    for name, result in document["results"].items():
        for phase in ("train", "inference"):
            cells = ", ".join(
                f"{k} {v['wall_ms']['median']:.3f} (cpu {v['cpu_ms']['median']:.3f})" for k, v in result[phase].items()
            )
            print(f"{name:>5} {phase:<9} ms: {cells}")
    print(f"gradnotes: wrote {out} ({document['machine']['cpu']}, {args.threads} thread(s))")
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bench-norm`` to the gradnotes CLI."""
    p = subparsers.add_parser(
        "bench-norm",
        help="measure the training/inference cost of BatchNorm, LayerNorm and folded BatchNorm; writes bn_cost.json",
        description="Time one training step and one inference pass of two MLP sizes without a norm, with BatchNorm, "
        "with LayerNorm and with BatchNorm folded into the preceding Linear layer (medians of interleaved repeats), "
        "and write figures/data/bn_cost.json, which the bn_cost figure reads. Wall times belong to this machine.",
        epilog="examples:\n  gradnotes bench-norm\n  gradnotes bench-norm --repeats 50 --threads 2\n"
        "  gradnotes bench-norm --out /tmp/bn_cost.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--repeats", type=int, default=25, help="timed repeats per variant (median and quartiles; ≥ 5)")
    p.add_argument("--threads", type=int, default=1, help="torch threads during the measurement (default 1)")
    p.add_argument("--out", help="output file (default: figures/data/bn_cost.json)")
    p.set_defaults(func=_cmd_bench_norm)
