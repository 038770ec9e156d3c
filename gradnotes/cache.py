"""Content-addressed result cache: cached(spec) -> Result, JSON on disk, checksummed, written atomically.

Key = sha256(spec's canonical JSON, source of the engine modules that compute a Result, torch and numpy versions):
editing the simulation invalidates exactly the results it could change; nothing else does. Entries are JSON (never
pickle); a checksum over the payload catches corrupt or truncated files, which are recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradnotes import paths
from gradnotes.spec import Spec

if TYPE_CHECKING:  # torch is imported only when a result is actually needed
    from gradnotes.sim import Result

# The modules whose source decides a Result's numbers (theory.py does not: it is never cached here).
ENGINE_MODULES = ("spec.py", "sim.py")
FORMAT_VERSION = 1


def results_dir() -> Path:
    """Where result entries live: cache_dir()/results."""
    return paths.cache_dir() / "results"


@functools.cache
def engine_fingerprint() -> str:
    """sha256 of the engine source and the library versions (computed once per process)."""
    import numpy
    import torch

    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for name in ENGINE_MODULES:
        digest.update(name.encode() + b"\0" + (package / name).read_bytes() + b"\0")
    digest.update(f"torch={torch.__version__};numpy={numpy.__version__};format={FORMAT_VERSION}".encode())
    return digest.hexdigest()


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
    from gradnotes.sim import Result

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
    """Write a Result atomically (temp file in the same directory + os.replace)."""
    path = entry_path(result.spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = result.to_dict()
    entry = {"key": result_key(result.spec), "checksum": _payload_checksum(payload), "result": payload}
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:16]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def cached_many(specs: Sequence[Spec]) -> list[Result]:
    """Results for many specs: cache hits are loaded, the misses simulated together in one batched run_many."""
    from gradnotes.sim import run_many

    found = {spec: load(spec) for spec in dict.fromkeys(specs)}
    missing = [spec for spec, result in found.items() if result is None]
    if missing:
        for result in run_many(missing):
            store(result)
            found[result.spec] = result
    return [found[spec] for spec in specs]


def cached(spec: Spec) -> Result:
    """The spec's Result, from the cache or simulated and stored."""
    return cached_many([spec])[0]
