"""The explorer's data: a grid of real engine runs, shipped as small static JSON shards the page fetches per view.

Grid: every activation x init x norm x residual x width x depth x batch below, seeds 0-4, computed by the engine
(``sim.run_depths``: one forward pass to depth 100 serves all four depths' backward passes, bit-identical to separate
runs, without the weight gradients the page never shows). Networks of the site's protocol size (depth 30, width 256,
batch 30) that the page figures put in the engine's result cache are taken from it, so the explorer's default view
and the page figures are the same cache entries.

One shard per (activation, norm, residual, width): ``<activation>-<norm>-<0|1>-w<width>.json``. Values are codes
``round(100 * log10(v))`` (centi-decades, 2.3 % relative), delta-coded along the layers; ``null`` stands for an
exact 0 (underflow) and ``"x"`` for inf/NaN, and the value after either is absolute again. Forward statistics
(E[h²], the saturated or zero fraction) are stored once per (init, batch) for the deepest network: a shallower
network's forward pass is its first layers. A shard's ``key`` is the grid's content key (engine sources, this file,
library versions): a stale shard is rebuilt, and the page refuses a shard whose key differs from the index's.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gradnotes import keys, paths
from gradnotes.errors import UserError

FORMAT = 1
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu", "centered_sigmoid")
INITS = (
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "standard_normal",
    "small_normal",
    "torch_default",
    "orthogonal",
)
NORMS = ("none", "batchnorm", "layernorm")
RESIDUALS = (False, True)
DEPTHS = (5, 10, 30, 100)
WIDTHS = (64, 256)
# Only BatchNorm's statistics depend on the batch; the other norms run at the protocol's batch only.
BATCHES = {"none": (30,), "batchnorm": (2, 8, 30), "layernorm": (30,)}
SEEDS = (0, 1, 2, 3, 4)
PROTOCOL = {"depth": 30, "width": 256, "batch": 30}
DEFAULT = {
    "activation": "sigmoid",
    "init": "xavier_uniform",
    "norm": "none",
    "residual": False,
    "depth": 30,
    "width": 256,
    "batch": 30,
}
FRACTION_SCALE = 1000  # fractions as integers 0..1000 (0.1 %)
SATURATING = ("sigmoid", "tanh", "centered_sigmoid")


def axes() -> dict[str, Any]:
    """The grid's axes, as the page and the tests read them."""
    return {
        "activation": list(ACTIVATIONS),
        "init": list(INITS),
        "norm": list(NORMS),
        "residual": [int(r) for r in RESIDUALS],
        "depth": list(DEPTHS),
        "width": list(WIDTHS),
        "batch": {norm: list(b) for norm, b in BATCHES.items()},
        "seeds": list(SEEDS),
    }


def out_dir() -> Path:
    """Where the shards are published from: cache_dir()/explorer/v<FORMAT>."""
    return paths.cache_dir() / "explorer" / f"v{FORMAT}"


def shard_name(activation: str, norm: str, residual: bool, width: int) -> str:
    return f"{activation}-{norm}-{int(residual)}-w{width}.json"


def shards() -> list[tuple[str, str, bool, int]]:
    """Every (activation, norm, residual, width) of the grid, in build order."""
    return list(itertools.product(ACTIVATIONS, NORMS, RESIDUALS, WIDTHS))


def shard_specs(activation: str, norm: str, residual: bool, width: int) -> list:
    """The engine specs one shard holds."""
    from gradnotes.engine.spec import Spec

    return [
        Spec(
            activation=activation,
            init=init,
            norm=norm,
            residual=residual,
            depth=depth,
            width=width,
            batch=batch,
            seed=seed,
        )
        for init in INITS
        for batch in BATCHES[norm]
        for seed in SEEDS
        for depth in DEPTHS
    ]


# What decides a shard's bytes: editing anything else in this file (the build's plumbing, the statements) recomputes
# nothing. Every function here is keyed by its source, the grid by its values.
KEYED = (
    "shard_specs",
    "code",
    "encode",
    "fraction_codes",
    "_theory",
    "theory_lines",
    "_pieces",
    "compute_unit",
    "_assemble",
)


def grid_key() -> str:
    """Content key of the whole grid: the engine's fingerprint, the grid's values, the encoding functions' source,
    and the theory's sources (its lines are in the shards)."""
    import ast

    from gradnotes.engine import cache, theory

    source = Path(__file__).read_text(encoding="utf-8")
    functions = {
        node.name: ast.get_source_segment(source, node) or ""
        for node in keys.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name in KEYED
    }
    theory_file = Path(theory.__file__)
    theory_files = keys.dependencies(theory_file.read_text(encoding="utf-8"), extra=[theory_file])
    grid = json.dumps({"axes": axes(), "protocol": PROTOCOL, "default": DEFAULT, "fraction": FRACTION_SCALE})
    return keys.content_key(
        "explorer",
        str(FORMAT),
        cache.engine_fingerprint(),
        grid,
        *(functions[name] for name in KEYED),
        *keys.sources_part(theory_files),
    )


# --- encoding -------------------------------------------------------------------------------------------------------


def code(value: float) -> int | str | None:
    """round(100 log10 v) for v > 0; None for 0 (underflow); "x" for inf/NaN."""
    if not math.isfinite(value):
        return "x"
    if value <= 0:
        return None  # the engine's statistics are norms and mean squares, so <= 0 means exactly 0
    return round(100 * math.log10(value))


def encode(values: Iterable[float]) -> list[int | str | None]:
    """Codes of the values, delta-coded: each int is the difference to the previous int, absolute after a sentinel."""
    out: list[int | str | None] = []
    previous: int | None = None
    for value in values:
        c = code(value)
        if isinstance(c, int):
            out.append(c if previous is None else c - previous)
            previous = c
        else:
            out.append(c)
            previous = None
    return out


def decode(encoded: Sequence[int | str | None]) -> list[int | str | None]:
    """Inverse of encode: the codes (ints, None, "x")."""
    codes: list[int | str | None] = []
    previous: int | None = None
    for item in encoded:
        if isinstance(item, int) and not isinstance(item, bool):
            previous = item if previous is None else previous + item
            codes.append(previous)
        else:
            codes.append(item)
            previous = None
    return codes


def fraction_codes(runs: Sequence[Sequence[float] | None]) -> list[int] | None:
    """Mean over seeds of a per-layer fraction, as integers 0..FRACTION_SCALE."""
    if any(r is None for r in runs):
        return None
    depth = len(runs[0])  # type: ignore[arg-type]
    return [round(FRACTION_SCALE * sum(r[i] for r in runs) / len(runs)) for i in range(depth)]  # type: ignore[index]


def _theory(spec) -> dict[int, dict[str, list]] | None:
    """The mean-field lines at every depth of the grid (one forward recursion), or None where theory has none."""
    from gradnotes.engine import theory

    try:
        predictions = theory.predict_depths(spec, DEPTHS)
    except UserError:
        return None
    return {
        depth: {"act": encode(p.act_mean_square), "grad": encode(p.preact_grad_norm)}
        for depth, p in predictions.items()
    }


def _spec(activation, init, norm, residual, depth, width, batch, seed):
    from gradnotes.engine.spec import Spec

    return Spec(
        activation=activation, init=init, norm=norm, residual=residual, depth=depth, width=width, batch=batch, seed=seed
    )


def is_protocol(spec) -> bool:
    return all(getattr(spec, name) == value for name, value in PROTOCOL.items())


# --- building -------------------------------------------------------------------------------------------------------


def _pieces(result) -> dict[str, Any]:
    """What a shard keeps of one Result: the gradient codes, and the forward statistics of the deepest network."""
    spec = result.spec
    piece: dict[str, Any] = {"grad": encode(result.preact_grad_norm)}
    if spec.depth == max(DEPTHS):
        piece["act"] = encode(result.act_mean_square)
        metric = "saturated_fraction" if spec.activation in SATURATING else "zero_fraction"
        piece["frac"] = getattr(result, metric)
    return piece


def _spec_id(spec) -> tuple:
    return (spec.activation, spec.init, spec.norm, spec.residual, spec.depth, spec.width, spec.batch, spec.seed)


def compute_unit(specs: Sequence) -> dict[tuple, dict[str, Any]]:
    """Worker: simulate specs that share one set of draws (one run_depths call); return each one's shard pieces.

    The grid needs no weight gradients, so autograd skips their matmuls (``weight_grads=False``; every statistic the
    shards keep is bit-identical to a full run). Protocol-size networks the engine's cache holds (the page figures'
    entries) are taken from it, so those views are the figures' own numbers.
    """
    from gradnotes.engine import cache
    from gradnotes.engine.sim import run_depths

    pieces = {}
    for spec, result in zip(specs, run_depths(specs, weight_grads=False), strict=True):
        if is_protocol(spec):
            hit = cache.load(spec)
            if hit is not None:
                result = hit
        pieces[_spec_id(spec)] = _pieces(result)
    return pieces


def theory_lines() -> dict[tuple, dict[int, dict[str, list]] | None]:
    """Every mean-field line the shards hold, keyed ("theory", activation, init, residual, width): a unit of work of
    its own (~5 CPU-s of quadrature), so it runs in a worker beside the simulations, not after them."""
    deepest = max(DEPTHS)
    return {
        ("theory", activation, init, residual, width): _theory(
            _spec(activation, init, "none", residual, deepest, width, PROTOCOL["batch"], 0)
        )
        for activation in ACTIVATIONS
        for init in INITS
        for residual in RESIDUALS
        for width in WIDTHS
    }


def _run_unit(unit) -> dict[tuple, Any]:
    return theory_lines() if unit == "theory" else compute_unit(unit)


def units() -> list[list]:
    """The grid's specs in work units: each unit shares one set of draws (width, batch), and the costly
    (width 256, batch 30) set is split by activation pairs so that two workers finish together."""
    by_draws: dict[tuple[int, int], list] = {}
    for shard in shards():
        for spec in shard_specs(*shard):
            by_draws.setdefault((spec.width, spec.batch), []).append(spec)
    out = []
    for (width, batch), specs in sorted(by_draws.items(), key=lambda kv: -kv[0][0] * kv[0][0] * kv[0][1]):
        if width * width * batch >= 256 * 256 * 30:
            for pair in (ACTIVATIONS[0:2], ACTIVATIONS[2:4], ACTIVATIONS[4:6]):
                out.append([s for s in specs if s.activation in pair])
        else:
            out.append(specs)
    return out


def _assemble(shard: tuple[str, str, bool, int], pieces: dict[tuple, dict[str, Any]], key: str) -> dict[str, Any]:
    activation, norm, residual, width = shard
    deepest = max(DEPTHS)
    data: dict[str, Any] = {}
    theory: dict[str, Any] = {}
    for init in INITS:
        for batch in BATCHES[norm]:

            def piece(depth, seed, init=init, batch=batch):
                return pieces[(activation, init, norm, residual, depth, width, batch, seed)]

            fractions = [piece(deepest, seed)["frac"] for seed in SEEDS]
            data[f"{init}/{batch}"] = {
                "act": [piece(deepest, seed)["act"] for seed in SEEDS],
                "frac": fraction_codes(fractions),
                "grad": {str(depth): [piece(depth, seed)["grad"] for seed in SEEDS] for depth in DEPTHS},
            }
        # the mean field per entry does not depend on the batch; the norm scales with sqrt(batch): lines at batch 30.
        # It covers norm = none only.
        lines = pieces[("theory", activation, init, residual, width)] if norm == "none" else None
        if lines is not None:
            theory[init] = {"act": lines[deepest]["act"], "grad": {str(d): v["grad"] for d, v in lines.items()}}
    return {
        "format": FORMAT,
        "key": key,
        "activation": activation,
        "norm": norm,
        "residual": int(residual),
        "width": width,
        "fraction": "saturated_fraction" if activation in SATURATING else "zero_fraction",
        "theory_batch": PROTOCOL["batch"],
        "data": data,
        "theory": theory,
    }


def _manifest_path() -> Path:
    return out_dir() / "manifest.json"


def read_manifest() -> dict:
    try:
        manifest = json.loads(_manifest_path().read_text(encoding="utf-8"))
        if manifest.get("format") == FORMAT and isinstance(manifest.get("files"), dict):
            return manifest
    except (OSError, ValueError):
        pass
    return {"format": FORMAT, "key": None, "files": {}}


def _intact(manifest: dict, name: str) -> bool:
    try:
        return keys.sha256((out_dir() / name).read_bytes()) == manifest["files"][name]
    except (OSError, KeyError):
        return False


def index(key: str, files: dict[str, str]) -> dict[str, Any]:
    """index.json: the axes, the default view, the key every shard must carry, and the files."""
    return {"format": FORMAT, "key": key, "axes": axes(), "default": DEFAULT, "protocol": PROTOCOL, "files": files}


def build(*, force: bool = False, progress: bool | None = None, jobs: int | None = None) -> dict[str, Any]:
    """Bring the shards and index.json up to date; returns {"computed": n, "seconds": s}."""
    from gradnotes.site.gallery import _worker_init, jobs_default

    start = time.perf_counter()
    key = grid_key()
    out = out_dir()
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest()
    current = manifest.get("key") == key
    stale = force or not current or not all(_intact(manifest, shard_name(*s)) for s in shards())
    files = {name: sha for name, sha in manifest["files"].items() if current and name != "index.json"}
    computed = 0
    timings: dict[str, float] = {}
    if stale:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        from tqdm import tqdm

        work: list = [*units(), "theory"]  # largest first; the theory, smallest, evens the workers out at the end
        workers = max(1, min(jobs or jobs_default(), 2))
        pieces: dict[tuple, dict[str, Any]] = {}
        bar = tqdm(total=len(work), unit="part", desc="explorer", disable=None if progress is None else not progress)
        if workers == 1:
            for unit in work:
                pieces.update(_run_unit(unit))
                bar.update(1)
        else:
            # spawn, not fork (torch); one thread each: two single-threaded workers beat one two-threaded process
            # on these small matmuls
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init) as pool:
                for future in as_completed([pool.submit(_run_unit, unit) for unit in work]):
                    pieces.update(future.result())
                    bar.update(1)
        bar.close()
        timings["compute"] = time.perf_counter() - start
        for shard in shards():
            text = json.dumps(_assemble(shard, pieces, key), separators=(",", ":"), sort_keys=True)
            target = out / shard_name(*shard)
            keys.write_if_changed(target, text)
            files[target.name] = keys.sha256(text.encode())
        computed = len(shards())
    expected = {shard_name(*s) for s in shards()}
    for stale in sorted(p.name for p in out.glob("*.json") if p.name not in expected | {"index.json", "manifest.json"}):
        (out / stale).unlink()
    files = {name: files[name] for name in sorted(expected)}
    index_text = json.dumps(index(key, files), separators=(",", ":"), sort_keys=True)
    keys.write_if_changed(out / "index.json", index_text)
    all_files = {**files, "index.json": keys.sha256(index_text.encode())}
    keys.write_if_changed(
        _manifest_path(), json.dumps({"format": FORMAT, "key": key, "files": all_files}, sort_keys=True, indent=1)
    )
    return {
        "computed": computed,
        "seconds": time.perf_counter() - start,
        **{f"{k}_seconds": v for k, v in timings.items()},
    }


# --- reading (tests, claims) ----------------------------------------------------------------------------------------


def load_shard(activation: str, norm: str, residual: bool, width: int) -> dict[str, Any]:
    return json.loads((out_dir() / shard_name(activation, norm, residual, width)).read_text(encoding="utf-8"))


def view(shard: dict[str, Any], init: str, depth: int, batch: int) -> dict[str, Any]:
    """One view decoded: per seed the gradient and E[h²] codes (depth long), the fraction, the theory codes."""
    entry = shard["data"][f"{init}/{batch}"]
    line = shard["theory"].get(init)
    return {
        "grad": [decode(run) for run in entry["grad"][str(depth)]],
        "act": [decode(run)[:depth] for run in entry["act"]],
        "frac": None if entry["frac"] is None else entry["frac"][:depth],
        "theory_grad": None if line is None else decode(line["grad"][str(depth)]),
        "theory_act": None if line is None else decode(line["act"])[:depth],
    }


def decades(codes: Sequence[int | str | None]) -> float:
    """log10(first / last) of a code list (centi-decades to decades); NaN where an end is not a finite value."""
    first, last = codes[0], codes[-1]
    if not (isinstance(first, int) and isinstance(last, int)):
        return math.nan
    return (first - last) / 100


def mean_decades(runs: Sequence[Sequence[int | str | None]]) -> float:
    """The seeds' mean of log10(first/last): the ratio of the geometric means, as the page states it."""
    values = [decades(r) for r in runs]
    return math.nan if any(math.isnan(v) for v in values) else sum(values) / len(values)


def statements(load=load_shard) -> list[dict[str, Any]]:
    """The explorer page's statements (its presets), each with the decades it measures and whether it holds."""

    def ratio(activation, init, norm="none", residual=False, depth=30, width=256, batch=30) -> float:
        return mean_decades(view(load(activation, norm, residual, width), init, depth, batch)["grad"])

    sigmoid = ratio("sigmoid", "xavier_uniform")
    relu_xavier = ratio("relu", "xavier_normal", depth=100)
    relu_he = ratio("relu", "he_normal", depth=100)
    sigmoid_bn = ratio("sigmoid", "xavier_uniform", "batchnorm")
    sigmoid_ln = ratio("sigmoid", "xavier_uniform", "layernorm")
    bn2 = ratio("relu", "he_normal", "batchnorm", depth=100, batch=2)
    bn30 = ratio("relu", "he_normal", "batchnorm", depth=100, batch=30)
    return [
        {
            "name": "sigmoid + Xavier, 30 layers: vanishes by more than 15 decades",
            "value": sigmoid,
            "holds": sigmoid < -15,
        },
        {
            "name": "ReLU + Xavier, 100 layers: vanishes by more than 10 decades",
            "value": relu_xavier,
            "holds": relu_xavier < -10,
        },
        {"name": "ReLU + He, 100 layers: within one decade", "value": relu_he, "holds": abs(relu_he) < 1},
        {
            "name": "sigmoid + Xavier + BatchNorm, 30 layers: within one decade",
            "value": sigmoid_bn,
            "holds": abs(sigmoid_bn) < 1,
        },
        {
            "name": "sigmoid + Xavier + LayerNorm, 30 layers: still vanishes by more than 10 decades",
            "value": sigmoid_ln,
            "holds": sigmoid_ln < -10,
        },
        {
            "name": "ReLU + He + BatchNorm, 100 layers, batch 2: grows by more than 50 decades",
            "value": bn2,
            "holds": bn2 > 50,
        },
        {
            "name": "ReLU + He + BatchNorm, 100 layers, batch 30: grows by less than 10 decades",
            "value": bn30,
            "holds": 0 < bn30 < 10,
        },
    ]


def check(load=load_shard) -> None:
    """Every statement holds on the shards the page draws (the build fails otherwise)."""
    failed = [f"{s['name']} (measured {s['value']:+.2f} decades)" for s in statements(load) if not s["holds"]]
    assert not failed, "; ".join(failed)
