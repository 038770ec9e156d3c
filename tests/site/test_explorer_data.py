"""The explorer's data: the encoding, the build (cached, stale and corrupt files rebuilt), and the real grid against
the engine — the decoded shards are the engine's numbers, and the default view is the page figure's cache entry."""

from __future__ import annotations

import gzip
import json
import math
import random

import pytest

from gradnotes.site import explorer

# --- encoding -------------------------------------------------------------------------------------------------------


def test_codes_are_centi_decades_with_sentinels_for_zero_and_nonfinite():
    assert explorer.code(1.0) == 0
    assert explorer.code(1e-5) == -500
    assert explorer.code(2.0) == 30
    assert explorer.code(0.0) is None
    assert explorer.code(math.inf) == "x" and explorer.code(math.nan) == "x"


def test_delta_coding_round_trips_through_sentinels():
    rng = random.Random(0)
    for _ in range(200):
        values = [10 ** rng.uniform(-300, 300) for _ in range(rng.randint(1, 40))]
        for k in rng.sample(range(len(values)), k=min(3, len(values))):
            values[k] = rng.choice([0.0, math.inf, math.nan])
        expected = [explorer.code(v) for v in values]
        assert explorer.decode(explorer.encode(values)) == expected
        # the JSON form decodes the same (Python's json is what the tests use, the browser's JSON.parse the page)
        assert explorer.decode(json.loads(json.dumps(explorer.encode(values)))) == expected


# --- the build, on a tiny grid ---------------------------------------------------------------------------------------


@pytest.fixture
def tiny_grid(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADNOTES_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(explorer, "ACTIVATIONS", ("tanh", "relu"))
    monkeypatch.setattr(explorer, "INITS", ("he_normal", "xavier_uniform"))
    monkeypatch.setattr(explorer, "DEPTHS", (2, 4))
    monkeypatch.setattr(explorer, "WIDTHS", (8,))
    monkeypatch.setattr(explorer, "SEEDS", (0, 1))
    monkeypatch.setattr(explorer, "BATCHES", {"none": (4,), "batchnorm": (2, 4), "layernorm": (4,)})
    monkeypatch.setattr(explorer, "PROTOCOL", {"depth": 4, "width": 8, "batch": 4})
    return explorer


def test_a_build_writes_every_shard_and_a_second_build_computes_nothing(tiny_grid):
    first = tiny_grid.build(jobs=1, progress=False)
    assert first["computed"] == len(tiny_grid.shards()) == 2 * 3 * 2
    names = {p.name for p in tiny_grid.out_dir().glob("*.json")}
    assert names == {tiny_grid.shard_name(*s) for s in tiny_grid.shards()} | {"index.json", "manifest.json"}
    assert tiny_grid.build(jobs=1, progress=False)["computed"] == 0


def test_a_corrupt_shard_is_detected_and_rebuilt(tiny_grid):
    tiny_grid.build(jobs=1, progress=False)
    target = tiny_grid.out_dir() / tiny_grid.shard_name("relu", "none", False, 8)
    good = target.read_bytes()
    target.write_bytes(good[: len(good) // 2])
    assert tiny_grid.build(jobs=1, progress=False)["computed"] > 0
    assert target.read_bytes() == good


def test_a_stale_grid_is_rebuilt_never_served(tiny_grid, monkeypatch):
    tiny_grid.build(jobs=1, progress=False)
    monkeypatch.setattr(tiny_grid, "grid_key", lambda: "a-changed-engine")
    assert tiny_grid.build(jobs=1, progress=False)["computed"] == len(tiny_grid.shards())
    index = json.loads((tiny_grid.out_dir() / "index.json").read_text())
    assert index["key"] == "a-changed-engine"
    for shard in tiny_grid.shards():
        assert tiny_grid.load_shard(*shard)["key"] == "a-changed-engine"


def test_tiny_shards_decode_to_the_engine_results(tiny_grid):
    from gradnotes.engine.sim import run_many

    tiny_grid.build(jobs=1, progress=False)
    for shard in tiny_grid.shards():
        data = tiny_grid.load_shard(*shard)
        specs = tiny_grid.shard_specs(*shard)
        results = dict(zip(specs, run_many(specs), strict=True))
        for spec, result in results.items():
            v = tiny_grid.view(data, spec.init, spec.depth, spec.batch)
            seed = tiny_grid.SEEDS.index(spec.seed)
            assert v["grad"][seed] == [tiny_grid.code(x) for x in result.preact_grad_norm]
            assert v["act"][seed] == [tiny_grid.code(x) for x in result.act_mean_square]


def test_a_statement_its_data_does_not_show_fails_the_check_by_name():
    flat = {
        "data": {
            f"{init}/{batch}": {
                "grad": {str(d): [[0] * d for _ in explorer.SEEDS] for d in explorer.DEPTHS},
                "act": [[0] * max(explorer.DEPTHS) for _ in explorer.SEEDS],
                "frac": [0] * max(explorer.DEPTHS),
            }
            for init in explorer.INITS
            for batch in (2, 8, 30)
        },
        "theory": {},
    }
    with pytest.raises(AssertionError, match="sigmoid \\+ Xavier, 30 layers"):
        explorer.check(load=lambda *shard: flat)  # every gradient flat: nothing vanishes


# --- the real grid (built by the session's site build, or here) -------------------------------------------------------


@pytest.fixture(scope="module")
def real_grid():
    explorer.build(progress=False)
    return explorer


def test_every_view_of_the_grid_is_in_its_shard(real_grid):
    for shard in real_grid.shards():
        data = real_grid.load_shard(*shard)
        activation, norm, residual, width = shard
        assert data["key"] == real_grid.grid_key()
        for init in real_grid.INITS:
            for batch in real_grid.BATCHES[norm]:
                for depth in real_grid.DEPTHS:
                    v = real_grid.view(data, init, depth, batch)
                    assert len(v["grad"]) == len(real_grid.SEEDS)
                    assert all(len(run) == depth for run in v["grad"] + v["act"])
                    assert v["frac"] is not None and len(v["frac"]) == depth


def test_a_theory_line_is_present_exactly_where_the_mean_field_is_defined(real_grid):
    from gradnotes.engine import theory
    from gradnotes.errors import UserError

    for shard in real_grid.shards():
        data = real_grid.load_shard(*shard)
        activation, norm, residual, width = shard
        for init in real_grid.INITS:
            spec = real_grid._spec(activation, init, norm, residual, 30, width, 30, 0)
            try:
                prediction = theory.predict(spec)
            except UserError:
                assert init not in data["theory"], shard
                continue
            line = real_grid.view(data, init, 30, 30)["theory_grad"]
            assert line == [real_grid.code(v) for v in prediction.preact_grad_norm]


@pytest.mark.parametrize("seed", range(3))
def test_a_sample_of_views_equals_the_engine_rerun(real_grid, seed):
    """Width-64 views (cheap to rerun): the same 40 networks through run_many decode to the shard, code for code."""
    from gradnotes.engine.sim import run_many

    rng = random.Random(seed)
    activation = rng.choice(real_grid.ACTIVATIONS)
    norm = rng.choice(real_grid.NORMS)
    residual = rng.choice(real_grid.RESIDUALS)
    depth = rng.choice(real_grid.DEPTHS)
    batch = rng.choice(real_grid.BATCHES[norm])
    data = real_grid.load_shard(activation, norm, residual, 64)
    members = [
        real_grid._spec(activation, init, norm, residual, depth, 64, batch, s)
        for init in real_grid.INITS
        for s in real_grid.SEEDS
    ]
    for result in run_many(members):
        v = real_grid.view(data, result.spec.init, depth, batch)
        seed_index = real_grid.SEEDS.index(result.spec.seed)
        assert v["grad"][seed_index] == [real_grid.code(x) for x in result.preact_grad_norm], result.spec
        assert v["act"][seed_index] == [real_grid.code(x) for x in result.act_mean_square], result.spec


def test_the_default_view_is_the_page_figures_cache_entry(real_grid):
    """Protocol-size views are the engine cache's entries, which are the ones the page figures drew."""
    from gradnotes.engine import cache
    from gradnotes.site import gallery

    figure = gallery.compute_data("vanishing_exploding")
    case = next(c for c in figure["cases"].values() if c.get("activation", "sigmoid") == "sigmoid")
    default = real_grid.DEFAULT
    data = real_grid.load_shard(default["activation"], default["norm"], default["residual"], default["width"])
    v = real_grid.view(data, default["init"], default["depth"], default["batch"])
    assert v["grad"] == [[real_grid.code(x) for x in run] for run in case["preact_grad_norm"]]
    for seed in real_grid.SEEDS:
        spec = real_grid._spec(default["activation"], default["init"], "none", False, 30, 256, 30, seed)
        entry = cache.load(spec)
        assert entry is not None, "the default view's networks are not in the engine cache"
        assert v["grad"][real_grid.SEEDS.index(seed)] == [real_grid.code(x) for x in entry.preact_grad_norm]


def test_every_protocol_size_view_the_figures_computed_is_their_cache_entry(real_grid):
    from gradnotes.engine import cache

    hits = 0
    for activation, norm, residual in [("relu", "batchnorm", False), ("tanh", "none", False), ("gelu", "none", True)]:
        data = real_grid.load_shard(activation, norm, residual, 256)
        for init in real_grid.INITS:
            v = real_grid.view(data, init, 30, 30)
            for seed in real_grid.SEEDS:
                entry = cache.load(real_grid._spec(activation, init, norm, residual, 30, 256, 30, seed))
                if entry is not None:
                    hits += 1
                    assert v["grad"][seed] == [real_grid.code(x) for x in entry.preact_grad_norm]
                    assert v["act"][seed][:30] == [real_grid.code(x) for x in entry.act_mean_square]
    assert hits >= 2 * 7 * 5  # ReLU + BN and tanh: every init the figures' grid holds (all but orthogonal)


def test_the_explorer_pages_statements_hold_on_its_data(real_grid):
    failed = [(s["name"], round(s["value"], 2)) for s in real_grid.statements() if not s["holds"]]
    assert not failed


def test_a_view_downloads_at_most_60_kb_gzip_with_the_script(real_grid):
    from support import ROOT

    script = len(gzip.compress((ROOT / "docs" / "javascripts" / "explorer.js").read_bytes(), 9))
    index = len(gzip.compress((real_grid.out_dir() / "index.json").read_bytes(), 9))
    largest = max(len(gzip.compress(p.read_bytes(), 9)) for p in real_grid.out_dir().glob("*-w*.json"))
    assert script + index + largest <= 60 * 1024, (script, index, largest)
    assert script <= 40 * 1024
