"""Content-addressed result cache: cached(spec) -> Result, JSON on disk, checksummed, written atomically.

Key = spec's canonical JSON + the source of the simulator and everything it imports (``keys.dependencies``, read
from the AST) + torch and numpy versions: editing the simulation invalidates exactly the results it could change;
nothing else does. Entries are JSON (never pickle); a checksum over the payload catches corrupt or truncated files,
which are recomputed. Misses are simulated under a cross-process lock, so two build workers never compute the same
networks twice: the second waits, then finds them cached.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradnotes import keys, paths
from gradnotes.engine.spec import Spec

if TYPE_CHECKING:  # torch is imported only when a result is actually needed
    from gradnotes.engine.sim import Result

FORMAT_VERSION = 1
SIMULATOR = Path(__file__).resolve().parent / "sim.py"


def results_dir() -> Path:
    """Where result entries live: cache_dir()/results."""
    return paths.cache_dir() / "results"


def simulator_sources() -> list[Path]:
    """The files whose source decides a Result's numbers: the simulator and its import closure."""
    return keys.dependencies(SIMULATOR.read_text(encoding="utf-8"), extra=[SIMULATOR])


@functools.cache
def engine_fingerprint() -> str:
    """Key part shared by every result: the simulator's sources and the library versions (once per process)."""
    return keys.content_key(
        "results", str(FORMAT_VERSION), *keys.sources_part(simulator_sources()), keys.versions(("torch", "numpy"))
    )


def result_key(spec: Spec) -> str:
    """The cache key of a spec's Result."""
    return hashlib.sha256(f"{spec.canonical_json()}\n{engine_fingerprint()}".encode()).hexdigest()


def entry_path(spec: Spec) -> Path:
    """File holding the spec's Result (two-level fan-out keeps directories small)."""
    key = result_key(spec)
    return results_dir() / key[:2] / f"{key}.json"


def _payload_checksum(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def load(spec: Spec) -> Result | None:
    """The cached Result, or None when missing, corrupt, or written for another spec."""
    from gradnotes.engine.sim import Result

    path = entry_path(spec)
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        payload = entry["result"]
        if entry.get("checksum") != _payload_checksum(payload) or payload["spec"] != spec.to_dict():
            return None
        return Result.from_dict(payload)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(result: Result) -> Path:
    """Write a Result atomically (keys.write_if_changed); a partial one (run_depths(weight_grads=False)) is refused."""
    if result.weight_grad_norm is None:
        raise ValueError(f"a partial Result (no weight gradients) is never cached: {result.spec}")
    path = entry_path(result.spec)
    payload = result.to_dict()
    entry = {"key": result_key(result.spec), "checksum": _payload_checksum(payload), "result": payload}
    keys.write_if_changed(path, json.dumps(entry, sort_keys=True, separators=(",", ":")))
    return path


@contextlib.contextmanager
def engine_lock() -> Iterator[None]:
    """One process at a time simulates: a second build worker waits and then finds the shared results cached."""
    with keys.file_lock(paths.cache_dir() / "engine.lock"):
        yield


def cached_many(specs: Sequence[Spec]) -> list[Result]:
    """Results for many specs: cache hits are loaded, the misses simulated together in one batched run_many."""
    from gradnotes.engine.sim import run_many

    found = {spec: load(spec) for spec in dict.fromkeys(specs)}
    if any(result is None for result in found.values()):
        with engine_lock():
            # another process may have simulated some of them while this one waited for the lock
            for spec in [spec for spec, result in found.items() if result is None]:
                found[spec] = load(spec)
            missing = [spec for spec, result in found.items() if result is None]
            for result in run_many(missing) if missing else []:
                store(result)
                found[result.spec] = result
    return [found[spec] for spec in specs]


def cached(spec: Spec) -> Result:
    """The spec's Result, from the cache or simulated and stored."""
    return cached_many([spec])[0]
