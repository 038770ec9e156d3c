"""Result cache: hits skip the simulation, corrupt entries are recomputed, entries are plain JSON written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gradnotes.engine import cache, sim
from gradnotes.engine.spec import Spec

SPEC = Spec(activation="tanh", init="xavier_uniform", depth=3, width=8, batch=4)


@pytest.fixture(autouse=True)
def engine_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRADNOTES_CACHE", str(tmp_path))
    return tmp_path


@pytest.fixture
def engine_count_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = sim.run_many

    def counting(specs, **kwargs):
        calls.append(len(specs))
        return real(specs, **kwargs)

    monkeypatch.setattr(sim, "run_many", counting)
    return calls


def test_second_call_is_a_hit(engine_cache_dir: Path, engine_count_runs: list[int]) -> None:
    first = cache.cached(SPEC)
    second = cache.cached(SPEC)
    assert engine_count_runs == [1]
    assert second.to_json() == first.to_json() == sim.run(SPEC).to_json()
    path = cache.entry_path(SPEC)
    assert path.is_relative_to(engine_cache_dir / "results")


def test_entries_are_json_with_a_checksum() -> None:
    cache.cached(SPEC)
    entry = json.loads(cache.entry_path(SPEC).read_text(encoding="utf-8"))
    assert set(entry) == {"key", "checksum", "result"}
    assert entry["result"]["spec"] == SPEC.to_dict()


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda text: text[: len(text) // 2],  # truncated write
        lambda text: text.replace('"act_mean_square":[', '"act_mean_square":[1234.5,', 1),  # edited payload
        lambda text: "\x00garbage",
        lambda text: json.dumps({"checksum": "x"}),
    ],
)
def test_corrupt_entries_are_recomputed(corrupt, engine_count_runs: list[int]) -> None:
    good = cache.cached(SPEC).to_json()
    path = cache.entry_path(SPEC)
    path.write_text(corrupt(path.read_text(encoding="utf-8")), encoding="utf-8")
    assert cache.load(SPEC) is None
    assert cache.cached(SPEC).to_json() == good
    assert engine_count_runs == [1, 1]
    assert cache.load(SPEC) is not None  # rewritten


def test_key_covers_spec_and_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    key = cache.result_key(SPEC)
    assert key != cache.result_key(SPEC.replace(seed=1))
    assert key == cache.result_key(Spec(**SPEC.to_dict()))
    monkeypatch.setattr(cache, "engine_fingerprint", lambda: "edited sim.py")
    assert cache.result_key(SPEC) != key


def test_results_are_keyed_on_the_simulator_and_what_it_imports_only() -> None:
    names = {p.relative_to(Path(cache.__file__).parents[2]).as_posix() for p in cache.simulator_sources()}
    assert {"gradnotes/engine/sim.py", "gradnotes/engine/spec.py", "gradnotes/engine/nets.py"} <= names
    # theory, the cache itself, the CLI and every other product cannot change a Result's numbers
    assert not {"gradnotes/engine/theory.py", "gradnotes/engine/cache.py", "gradnotes/engine/cli.py"} & names
    assert not any(n.startswith(("gradnotes/site/", "gradnotes/diagnose/", "gradnotes/experiments/")) for n in names)


def test_misses_are_simulated_together(engine_count_runs: list[int]) -> None:
    specs = [SPEC.replace(seed=s) for s in range(4)]
    cache.cached(specs[0])
    results = cache.cached_many(specs + [specs[1]])
    assert engine_count_runs == [1, 3]
    assert [r.spec for r in results] == specs + [specs[1]]


def test_failed_write_leaves_no_partial_file(monkeypatch: pytest.MonkeyPatch) -> None:
    result = sim.run(SPEC)

    def broken_replace(src, dst):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", broken_replace)
        with pytest.raises(OSError):
            cache.store(result)
    directory = cache.entry_path(SPEC).parent
    assert list(directory.iterdir()) == []
    cache.store(result)
    assert [p.name for p in directory.iterdir()] == [cache.entry_path(SPEC).name]
