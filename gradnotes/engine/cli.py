"""CLI subcommands of the engine: simulate, theory, bench (torch is imported only when one of them runs)."""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gradnotes.engine.spec import ACTIVATIONS, DTYPES, INITS, LOSSES, NORMS, Spec
from gradnotes.strictjson import dumps

if TYPE_CHECKING:
    from gradnotes.engine.sim import Result

DEFAULT_SEEDS = "0,1,2,3,4"
RATIO_METRICS = {"log10_ratio_weight_grad": "weight_grad_norm", "log10_ratio_preact_grad": "preact_grad_norm"}


def _seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be comma-separated integers, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("at least one seed is needed")
    return seeds


def _gain(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def _add_spec_arguments(parser: argparse.ArgumentParser, *, seeds: bool, dtype: bool = True) -> None:
    defaults = Spec()
    parser.add_argument("--activation", default=defaults.activation, help=f"one of: {', '.join(ACTIVATIONS)}")
    parser.add_argument("--init", default=defaults.init, help=f"one of: {', '.join(INITS)}")
    parser.add_argument("--norm", default=defaults.norm, help=f"one of: {', '.join(NORMS)}")
    parser.add_argument("--depth", type=int, default=defaults.depth, help="number of layers L")
    parser.add_argument("--width", type=int, default=defaults.width, help="units per layer")
    parser.add_argument("--batch", type=int, default=defaults.batch, help="samples in the batch")
    if seeds:
        parser.add_argument("--seeds", type=_seed_list, default=DEFAULT_SEEDS, help="comma-separated seeds")
    parser.add_argument("--loss", default=defaults.loss, help=f"one of: {', '.join(LOSSES)}")
    if dtype:  # theory is computed in float64 whatever the simulation's dtype: it takes no --dtype
        parser.add_argument("--dtype", default=defaults.dtype, help=f"one of: {', '.join(DTYPES)}")
    parser.add_argument("--residual", action="store_true", help="h_l = h_{l-1} + phi(z_l)")
    parser.add_argument(
        "--gain", type=_gain, default=defaults.gain, metavar="G", help="multiply the init's std (and bounds) by G"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def register_cli(subparsers: Any) -> None:
    """Add the simulate, theory and bench subcommands (each sets func=callable(args) -> int)."""
    raw = argparse.RawDescriptionHelpFormatter
    simulate = subparsers.add_parser(
        "simulate",
        help="per-layer statistics of simulated networks at initialisation",
        description="Simulate one network per seed (torch.nn.init weights, real BatchNorm1d/LayerNorm, autograd) and "
        "print per-layer statistics and log10(layer 1 / layer L). Results are cached by content; --no-cache "
        "recomputes. --json prints strict JSON (RFC 8259): a value that is not finite is null, with the reason.",
        epilog="examples:\n  gradnotes simulate --activation relu --init xavier_uniform\n"
        "  gradnotes simulate --activation sigmoid --init xavier_normal --norm batchnorm --batch 30\n"
        "  gradnotes simulate --activation sigmoid --init xavier_normal --gain 4\n"
        "  gradnotes simulate --activation tanh --depth 50 --seeds 0,1 --json | python -m json.tool",
        formatter_class=raw,
    )
    _add_spec_arguments(simulate, seeds=True)
    simulate.add_argument("--no-cache", action="store_true", help="recompute instead of using the result cache")
    simulate.set_defaults(func=simulate_command)

    theory = subparsers.add_parser(
        "theory",
        help="mean-field predictions (norm none)",
        description="Mean-field per-layer predictions for a plain network (norm none), layer-by-layer recursion "
        "(Poole et al. 2016; Schoenholz et al. 2017), computed in float64.",
        epilog="examples:\n  gradnotes theory --activation relu --init he_normal\n"
        "  gradnotes theory --activation tanh --init xavier_uniform --depth 100 --json",
        formatter_class=raw,
    )
    _add_spec_arguments(theory, seeds=False, dtype=False)
    theory.set_defaults(func=theory_command)

    bench = subparsers.add_parser(
        "bench",
        help="time the full grid cold and compare with plain batched matmul",
        description="Run the grid (4 activations x 6 inits x 3 norms x 5 seeds, depth 30, width 256, batch 256) "
        "without the cache; print wall time, FLOP rate and the ratio to torch.bmm of the same shapes.",
        epilog="examples:\n  gradnotes bench --quick\n  gradnotes bench --json",
        formatter_class=raw,
    )
    bench.add_argument("--quick", action="store_true", help="a small grid (depth 8, width 64, batch 64, 2 seeds)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(func=bench_command)


def _spec_fields(args: argparse.Namespace) -> dict[str, Any]:
    names = ("activation", "init", "norm", "depth", "width", "batch", "loss", "dtype", "residual", "gain")
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def _spec_json(spec: Spec, seeds: Sequence[int] | None) -> dict[str, Any]:
    data = spec.to_dict()
    del data["seed"]
    if seeds is not None:
        data["seeds"] = list(seeds)
    return data


def _layer_ranges(layers: Sequence[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7" (layer indices as the tables print them)."""
    parts: list[str] = []
    start = prev = None
    for layer in [*layers, None]:
        if layer is not None and prev is not None and layer == prev + 1:
            prev = layer
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = layer
    return ", ".join(parts)


def _why_undefined(result: Result) -> dict[str, str]:
    """For each statistic that is not a finite number at some layer: where, and whether the network itself overflowed
    (inf/NaN inside it) or only the statistic exceeds float64's range while the network's values are finite."""
    from gradnotes.engine.sim import METRICS

    reasons = {}
    for name in METRICS:
        values = getattr(result, name)
        if values is None or name == "nonfinite":
            continue
        bad = [k + 1 for k, v in enumerate(values) if not math.isfinite(v)]
        if not bad:
            continue
        in_network = [k for k in bad if result.nonfinite[k - 1]]
        cause = (
            "the network's values are inf/NaN there"
            if len(in_network) == len(bad)
            else "the network's values are finite there; the statistic exceeds float64's range"
            if not in_network
            else f"the network's values are inf/NaN at layers {_layer_ranges(in_network)}"
        )
        reasons[name] = f"not finite at layers {_layer_ranges(bad)}: {cause}"
    for ratio, name in RATIO_METRICS.items():
        value = result.log10_ratio(name)
        if math.isfinite(value):
            continue
        first, last = getattr(result, name)[0], getattr(result, name)[-1]
        if value == -math.inf:
            reasons[ratio] = f"layer 1's {name} is exactly 0 (it vanished below float precision)"
        else:
            ends = f"layer 1: {first!r}, layer {len(getattr(result, name))}: {last!r}"
            reasons[ratio] = f"undefined: an end of {name} is not a positive finite number ({ends})"
    return reasons


def _mean_std(values: Sequence[float], reasons: Sequence[str]) -> dict[str, Any]:
    if not all(math.isfinite(v) for v in values):
        # a non-finite ratio (overflow, a gradient that is exactly zero) stays visible instead of being averaged away
        return {"mean": None, "std": None, "reason": "; ".join(reasons)}
    std = statistics.stdev(values) if len(values) > 1 else 0.0  # sample std (ddof = 1) over seeds
    return {"mean": statistics.fmean(values), "std": std}


def simulate_report(results: Sequence[Result], seeds: Sequence[int]) -> dict[str, Any]:
    """The JSON object `gradnotes simulate --json` prints (before ``strict``: floats may still be inf/NaN here).

    A per-seed row has every metric per layer, both log10 ratios, and ``undefined``: for each statistic or ratio
    that is not a finite number, where and why (an overflow in the network, or a statistic beyond float64).
    """
    from gradnotes.engine.sim import METRICS

    per_seed = []
    why = {}
    for seed, result in zip(seeds, results, strict=True):
        row: dict[str, Any] = {"seed": seed}
        row.update({metric: getattr(result, metric) for metric in METRICS})
        row.update({name: result.log10_ratio(metric) for name, metric in RATIO_METRICS.items()})
        why[seed] = _why_undefined(result)
        if why[seed]:
            row["undefined"] = why[seed]
        per_seed.append(row)
    summary = {
        name: _mean_std(
            [result.log10_ratio(metric) for result in results],
            [f"seed {seed}: {why[seed][name]}" for seed in seeds if name in why[seed]],
        )
        for name, metric in RATIO_METRICS.items()
    }
    return {"spec": _spec_json(results[0].spec, seeds), "per_seed": per_seed, "summary": summary}


def _format(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    return f"{value:.3g}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(headers)] + [[_format(v) if not isinstance(v, str) else v for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in cells)


def _seed_mean(values: Sequence[Any]) -> Any:
    if values[0] is None:
        return None
    if isinstance(values[0], bool):
        return any(values)
    return statistics.fmean(values)


def simulate_command(args: argparse.Namespace) -> int:
    """`gradnotes simulate`: one network per seed, JSON or a per-layer table of seed means."""
    specs = [Spec(seed=seed, **_spec_fields(args)) for seed in args.seeds]
    if args.no_cache:
        from gradnotes.engine.sim import run_many

        results = run_many(specs)
    else:
        from gradnotes.engine.cache import cached_many

        results = cached_many(specs)
    report = simulate_report(results, args.seeds)
    if args.json:
        print(dumps(report))
        return 0
    columns = {
        "act_mean_square": "E[h^2]",
        "preact_std": "std(a)",
        "saturated_fraction": "saturated",
        "zero_fraction": "z<=0",
        "dead_unit_fraction": "dead",
        "preact_grad_norm": "|dL/da|",
        "weight_grad_norm": "|dL/dW|",
        "nonfinite": "inf/nan",
    }
    shown = [m for m in columns if getattr(results[0], m) is not None]
    rows = []
    for layer in range(specs[0].depth):
        rows.append([str(layer + 1)] + [_seed_mean([getattr(r, m)[layer] for r in results]) for m in shown])
    spec = specs[0]
    print(
        f"{spec.activation} / {spec.init}{f' x {spec.gain:g}' if spec.gain != 1.0 else ''} / norm {spec.norm}"
        f"{' / residual' if spec.residual else ''}: depth "
        f"{spec.depth}, width {spec.width}, batch {spec.batch}, loss {spec.loss}, {spec.dtype}; "
        f"mean over seeds {','.join(map(str, args.seeds))}"
    )
    print(_table(["layer"] + [columns[m] for m in shown], rows))
    for name, stats in report["summary"].items():
        if stats["mean"] is None:
            print(f"{name} (layer 1 / layer L): undefined — {stats['reason']}")
        else:
            print(f"{name} (layer 1 / layer L): {stats['mean']:.3f} +- {stats['std']:.3f} decades")
    notes = {name: text for row in report["per_seed"] for name, text in row.get("undefined", {}).items()}
    for name, text in notes.items():
        if name in columns:
            print(f"note: {columns[name]} {text}")
    return 0


def theory_command(args: argparse.Namespace) -> int:
    """`gradnotes theory`: mean-field predictions, JSON or a per-layer table."""
    from gradnotes.engine.theory import predict

    spec = Spec(**_spec_fields(args))
    prediction = predict(spec)
    if args.json:
        print(dumps({"spec": _spec_json(spec, None), "theory": prediction.to_dict()}))
        return 0
    names = ["q", "act_mean_square", "chi", "preact_grad_norm", "weight_grad_norm"]
    headers = ["layer", "q=Var[a]", "E[h^2]", "chi", "|dL/da|", "|dL/dW|"]
    rows = []
    for layer in range(spec.depth):
        row: list[Any] = [str(layer + 1)]
        for name in names:
            values = getattr(prediction, name)
            row.append(None if values is None else values[layer])
        rows.append(row)
    gain = f", gain {spec.gain:g}" if spec.gain != 1.0 else ""
    print(
        f"mean field: {spec.activation} / {spec.init}{gain} (sigma_w^2 = {prediction.sigma_w2:.4g}), depth {spec.depth}"
    )
    print(_table(headers, rows))
    print(f"log10_ratio_preact_grad (layer 1 / layer L): {prediction.log10_ratio_preact_grad:.3f}")
    if prediction.log10_ratio_weight_grad is not None:
        print(f"log10_ratio_weight_grad (layer 1 / layer L): {prediction.log10_ratio_weight_grad:.3f}")
    return 0


def bench_command(args: argparse.Namespace) -> int:
    """`gradnotes bench`: the grid cold, its FLOP rate, and the ratio to plain bmm."""
    from gradnotes.engine.bench import grid_specs, run_bench

    if args.quick:
        specs = grid_specs(depth=8, width=64, batch=64, seeds=(0, 1))
    else:
        specs = grid_specs()
    report = run_bench(specs)
    if args.json:
        print(dumps(report))
        return 0
    shape = report["shape"]
    print(
        f"grid: {report['runs']} networks (depth {shape['depth']}, width {shape['width']}, batch {shape['batch']}) "
        f"in {report['wall_seconds']:.2f} s cold ({report['cpu_seconds']:.1f} CPU s), {report['workers']} "
        "single-threaded process(es)"
    )
    print(f"engine: {report['engine_gflops']:.1f} GFLOP/s over {report['matmul_gflop']:.0f} GFLOP of matmuls")
    ways = report["reference"]
    print(
        f"plain torch.bmm on the same matmuls ({shape['members']} x {shape['batch']} x {shape['width']}, forward and "
        f"both backward products), best with "
        f"all cores: {report['reference_bmm_gflops']:.1f} GFLOP/s (1 thread {ways['one_thread']:.1f}, threads "
        f"{ways['threads']:.1f}"
        + (f", a process per core {ways['processes']:.1f}" if "processes" in ways else "")
        + f"); ratio engine / best = {report['ratio']:.2f}"
    )
    return 0
