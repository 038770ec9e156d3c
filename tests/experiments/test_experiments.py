"""The experiment code behind the digits/BN/RNN figures: data split, stacked MLPs vs torch modules, determinism,
Santurkar's ICS measure, BN folding, the bench-norm command and its measurement file, and the helpers that live in
the one figure that uses them (gradient clipping, RNN pre-activations, norm axes, batch dependence)."""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gradnotes import paths
from gradnotes.__main__ import main
from gradnotes.engine.nets import threads
from gradnotes.errors import UserError
from gradnotes.experiments import bn_digits, digits, fold, norm_cost, stacked
from gradnotes.site import gallery


@pytest.fixture(autouse=True)
def one_thread():
    with threads(1):
        yield


@pytest.fixture(scope="module")
def data() -> digits.Digits:
    return digits.load_digits()


def test_digits_split_is_fixed_stratified_and_independent_of_the_global_seed(data):
    torch.manual_seed(12345)
    again = digits.load_digits()
    assert len(data.y_train) == 1437 and len(data.y_test) == 360
    assert torch.equal(data.test_index, again.test_index) and torch.equal(data.x_train, again.x_train)
    assert torch.bincount(data.y_test, minlength=10).tolist() == [digits.DIGITS_TEST_PER_CLASS] * 10
    # No image is in both sets: compare the raw pixel rows.
    train_rows = {tuple(row) for row in (data.pixels_train * 16).round().int().tolist()}
    test_rows = [tuple(row) for row in (data.pixels_test * 16).round().int().tolist()]
    assert not any(row in train_rows for row in test_rows)
    used = data.x_train.std(0) > 0
    assert torch.allclose(data.x_train.mean(0), torch.zeros(64), atol=1e-5)
    assert torch.allclose(data.x_train.std(0)[used], torch.ones(int(used.sum())), atol=1e-4)
    assert data.pixels_train.min() >= 0 and data.pixels_train.max() <= 1


def test_missing_scikit_learn_is_a_one_line_user_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes `from sklearn.datasets import …` fail
    monkeypatch.setattr(digits, "_digits_arrays", digits.functools.cache(digits._digits_arrays.__wrapped__))
    with pytest.raises(UserError, match=r"scikit-learn is needed for figure x: pip install scikit-learn"):
        digits.load_digits("figure x")


@pytest.mark.parametrize("norm", ["none", "batchnorm", "layernorm"])
def test_stack_members_are_ordinary_mlps_in_forward_and_backward(norm):
    sizes = [6, 5, 4, 3]
    stack = stacked.StackedMLP(sizes, activation="tanh", inits=["he_normal", "xavier_uniform"], seeds=[0, 1], norm=norm)
    with torch.no_grad():  # non-trivial biases, γ and β
        for p in stack.parameters():
            if p.dim() < 3:
                p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    x = torch.randn(2, 7, 6, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 3, (2, 7), generator=torch.Generator().manual_seed(1))
    members = [stack.member(k) for k in range(2)]  # copies taken before any forward pass
    logits = stack(x)
    stacked.member_losses(logits, y).sum().backward()
    for k, model in enumerate(members):
        out = model(x[k])
        assert torch.allclose(out, logits[k], atol=1e-6)
        F.cross_entropy(out, y[k]).backward()
        linears = [m for m in model if isinstance(m, nn.Linear)]
        for layer, linear in enumerate(linears):
            assert torch.allclose(linear.weight.grad, stack.weights[layer].grad[k].T, atol=1e-6)
        if norm == "batchnorm":  # one training-mode forward each: the same running statistics
            bn = model[1]
            part = slice(k * 5, (k + 1) * 5)
            assert torch.allclose(bn.running_mean, stack.norms[0].running_mean[part], atol=1e-6)
            assert torch.allclose(bn.running_var, stack.norms[0].running_var[part], atol=1e-6)
    stack.eval()
    for k in range(2):
        assert torch.allclose(stack.member(k)(x[k]), stack(x)[k], atol=1e-6)


def test_inits_with_one_seed_share_their_draws_and_differ_only_in_scale():
    stack = stacked.StackedMLP([20, 30, 10], activation="relu", inits=["xavier_normal", "he_normal"], seeds=[3, 3])
    xavier, he = stack.weights[0][0], stack.weights[0][1]
    expected = math.sqrt(2 / 20) / math.sqrt(2 / (20 + 30))  # He std / Xavier std for fan_in 20, fan_out 30
    assert torch.allclose(he, xavier * expected, rtol=1e-5)
    with pytest.raises(UserError, match="unknown init"):
        stacked.StackedMLP([4, 4, 2], activation="relu", inits=["bogus"], seeds=[0])


def test_training_is_deterministic_for_its_seeds_and_differs_across_seeds(data):
    def run(seeds):
        stack = stacked.StackedMLP(
            [64, 16, 10], activation="relu", inits=["he_normal"] * 2, seeds=seeds, norm="batchnorm"
        )
        history = stacked.train(stack, data, steps=15, batch_size=32, lr=0.05, eval_every=5)
        return history, stack

    first, stack_a = run([0, 1])
    second, stack_b = run([0, 1])
    assert first.batch_loss == second.batch_loss and first.test_accuracy == second.test_accuracy
    assert all(torch.equal(p, q) for p, q in zip(stack_a.parameters(), stack_b.parameters(), strict=True))
    other, _ = run([2, 1])
    assert [row[0] for row in other.batch_loss] != [row[0] for row in first.batch_loss]
    assert [row[1] for row in other.batch_loss] == [row[1] for row in first.batch_loss]  # members are independent
    assert first.eval_steps == [0, 5, 10, 15]


def test_per_member_learning_rates_equal_separate_runs(data):
    def run(rates, seeds):
        stack = stacked.StackedMLP([64, 12, 10], activation="tanh", inits=["xavier_normal"] * len(seeds), seeds=seeds)
        stacked.train(stack, data, steps=12, batch_size=16, lr=rates, momentum=0.9)
        return stack

    together = run([0.01, 0.3], [0, 1])
    alone = run([0.3], [1])
    for p_together, p_alone in zip(together.parameters(), alone.parameters(), strict=True):
        assert torch.allclose(p_together[1], p_alone[0], atol=1e-5)


def test_clip_norm_clips_each_members_gradient_like_clip_grad_norm_on_that_member_alone(data):
    stack = stacked.StackedMLP([64, 12, 10], activation="relu", inits=["he_normal", "xavier_normal"], seeds=[0, 1])
    reference = stack.member(0)  # an ordinary nn.Sequential copy, taken before training
    history = stacked.train(stack, data, steps=1, batch_size=16, lr=0.1, momentum=0.9, clip_norm=0.05)
    index = stacked.BatchSampler(len(data.y_train), 16, [0, 1]).next()[0]  # member 0's first mini-batch
    F.cross_entropy(reference(data.x_train[index]), data.y_train[index]).backward()
    returned = torch.nn.utils.clip_grad_norm_(reference.parameters(), max_norm=0.05)
    torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9).step()
    assert history.grad_norm[0][0] == pytest.approx(float(returned), rel=1e-5)  # the norm before clipping
    for ours, theirs in zip(stack.member(0).parameters(), reference.parameters(), strict=True):
        assert torch.allclose(ours, theirs, atol=1e-6)
    # A member below the threshold is not touched: the same run as without clipping.
    loose = stacked.StackedMLP([64, 12, 10], activation="relu", inits=["he_normal"], seeds=[0])
    plain = stacked.StackedMLP([64, 12, 10], activation="relu", inits=["he_normal"], seeds=[0])
    stacked.train(loose, data, steps=3, batch_size=16, lr=0.1, clip_norm=1e6)
    stacked.train(plain, data, steps=3, batch_size=16, lr=0.1)
    assert all(torch.equal(a, b) for a, b in zip(loose.parameters(), plain.parameters(), strict=True))
    with pytest.raises(UserError, match="clip_norm must be positive"):
        stacked.train(plain, data, steps=1, batch_size=16, lr=0.1, clip_norm=0.0)


def test_batch_sampler_visits_every_image_once_per_epoch():
    sampler = stacked.BatchSampler(10, 3, [0, 1])
    seen = torch.cat([sampler.next() for _ in range(3)], dim=1)  # 9 of 10 per member, then a new permutation
    assert all(len(set(row.tolist())) == 9 for row in seen)
    assert not torch.equal(seen[0], seen[1])
    with pytest.raises(UserError):
        stacked.BatchSampler(10, 11, [0])


def test_probe_leaves_running_statistics_alone(data):
    stack = stacked.StackedMLP([64, 8, 10], activation="sigmoid", inits=["xavier_normal"], seeds=[0], norm="batchnorm")
    before = stack.norms[0].running_mean.clone()
    pre = stack.probe(data.x_test)
    assert torch.equal(stack.norms[0].running_mean, before)
    # Batch statistics: the probed BN output has mean β = 0 and variance ≈ 1 per unit.
    assert torch.allclose(pre[0].mean(1), torch.zeros(1, 8), atol=1e-5)


def test_gradient_shift_is_zero_without_an_update_and_positive_with_one(data):
    stack = stacked.StackedMLP([64, 10, 10, 10], activation="sigmoid", inits=["xavier_normal"] * 2, seeds=[0, 1])
    x, y = data.x_train[:32].expand(2, -1, -1), data.y_train[:32].expand(2, -1)
    stacked.member_losses(stack(x), y).sum().backward()
    same = [p.detach().clone() for p in stack.parameters()]
    still = bn_digits.gradient_shift(stack, x, y, same)
    assert all(v < 1e-6 for layer in still["grad_change"] for v in layer)
    with torch.no_grad():
        for p in stack.parameters():
            p.sub_(0.5 * p.grad)  # an SGD step of every layer
    updated = [p.detach().clone() for p in stack.parameters()]
    moved = bn_digits.gradient_shift(stack, x, y, same)
    assert len(moved["grad_change"]) == 2 and all(v > 1e-4 for layer in moved["grad_change"] for v in layer)
    assert all(-1 <= c <= 1 + 1e-6 for layer in moved["grad_cosine"] for c in layer)
    # The measurement puts the updated parameters back.
    assert all(torch.equal(p, q) for p, q in zip(stack.parameters(), updated, strict=True))


def test_fold_batchnorm_matches_eval_mode_and_leaves_the_model_alone():
    model = stacked.build_mlp([5, 7, 7, 3], activation="relu", norm="batchnorm", seed=0)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        model(torch.randn(16, 5, generator=generator) * 3 + 1)  # running statistics away from 0 and 1
    with torch.no_grad():
        model[1].weight.mul_(1.7)
        model[1].bias.add_(0.4)
    folded = fold.fold_batchnorm(model)
    assert model.training and not any(isinstance(m, nn.BatchNorm1d) for m in folded)
    x = torch.randn(32, 5, generator=generator)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), atol=1e-5)


def test_clip_grad_norm_returns_the_norm_before_and_caps_it():
    clipping = gallery.load("gradient_clipping")  # the helper lives in the one figure that uses it
    weight = nn.Parameter(torch.zeros(3))
    weight.grad = torch.tensor([3.0, 4.0, 0.0])
    clipped = clipping.clip_gradients([weight], max_norm=1.0)
    assert clipped["returned_norm"] == pytest.approx(5.0) and clipped["norm_before"] == pytest.approx(5.0)
    assert clipped["norm_after"] == pytest.approx(1.0, rel=1e-5) and clipped["cosine"] == pytest.approx(1.0)
    weight.grad = torch.tensor([0.3, 0.4, 0.0])
    untouched = clipping.clip_gradients([weight], max_norm=1.0)
    assert untouched["norm_after"] == pytest.approx(0.5)


def test_rnn_preactivations_rebuild_the_hidden_states_and_the_spectral_radius_is_set():
    rnn_figure = gallery.load("rnn_timestep_stats")
    rnn, _, generator = gallery.load("gradient_clipping").recurrent_net(
        hidden=12, inputs=3, spectral_radius=1.7, seed=0
    )
    radius = torch.linalg.eigvals(rnn.weight_hh_l0.detach().double()).abs().max()
    assert float(radius) == pytest.approx(1.7, rel=1e-5)
    x = torch.randn(4, 9, 3, generator=generator)
    with torch.no_grad():
        a, h = rnn_figure.rnn_preactivations(rnn, x)
    assert torch.allclose(torch.tanh(a), h, atol=1e-6)
    with pytest.raises(UserError):
        rnn_figure.rnn_preactivations(nn.RNN(3, 4), x)  # not batch-first


def test_norm_axis_statistics():
    norm_axes = gallery.load("norm_axes")
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(0)) * 3 + 2
    stats = norm_axes.axis_statistics(x)
    assert max(map(abs, stats["bn_column_mean"])) < 1e-5 and max(map(abs, stats["ln_row_mean"])) < 1e-5
    assert all(abs(v - 1) < 1e-3 for v in stats["bn_column_var"] + stats["ln_row_var"])
    seq = norm_axes.sequence_axis_statistics(torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(1)))
    assert len(seq["bn_channel_mean"]) == 4 and len(seq["ln_step_mean"]) == 15


def test_batch_dependence():
    batch_size = gallery.load("bn_batch_size")
    features = torch.randn(200, 6, generator=torch.Generator().manual_seed(2))
    spread = batch_size.batch_dependence(features, [2, 64], probes=3, draws=16, generator=torch.Generator())
    assert spread["layernorm"] == [0.0, 0.0]
    assert spread["batchnorm"][0] > 3 * spread["batchnorm"][1] > 0
    with pytest.raises(UserError):
        batch_size.batch_dependence(features, [1], probes=1, draws=2, generator=torch.Generator())


def test_bench_norm_measures_every_variant_and_rejects_bad_arguments(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(norm_cost, "SIZES", {"tiny": {"n_in": 8, "width": 8, "hidden_layers": 2, "batch": 16}})
    monkeypatch.setattr(norm_cost, "TARGET_SECONDS", 0.001)
    out = tmp_path / "bn_cost.json"
    assert main(["bench-norm", "--repeats", "5", "--out", str(out)]) == 0
    document = norm_cost.load_measurement(out)  # what bench wrote passes the reader's schema
    assert document == json.loads(out.read_text())
    result = document["results"]["tiny"]
    assert set(result["train"]) == set(norm_cost.TRAIN_VARIANTS)
    assert set(result["inference"]) == set(norm_cost.INFER_VARIANTS)
    for cell in result["inference"].values():
        for clock in norm_cost.CLOCKS:
            assert cell[clock]["q25"] <= cell[clock]["median"] <= cell[clock]["q75"]
    assert result["inference"]["none"]["cpu_ratio_to_none"]["median"] == 1.0
    assert result["fold_max_abs_diff"] < 1e-5
    assert set(norm_cost.MACHINE_FIELDS) <= set(document["machine"])
    assert document["settings"]["threads"] == 1 and torch.get_num_threads() == 1  # restored afterwards
    capsys.readouterr()
    assert main(["bench-norm", "--repeats", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--repeats" in err[0]
    assert main(["bench-norm", "--threads", "0", "--out", str(out)]) == 2


def test_bench_norm_refuses_a_missing_folder_and_writes_through_the_one_writer(monkeypatch, tmp_path, capsys):
    measured = []

    def fake_bench(**kwargs) -> dict:
        measured.append(kwargs)
        return json.loads((paths.figures_dir() / "data" / "bn_cost.json").read_text(encoding="utf-8"))

    monkeypatch.setattr(norm_cost, "bench", fake_bench)
    missing = tmp_path / "nonexistent" / "dir" / "x"
    assert main(["bench-norm", "--out", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0], err
    assert not (tmp_path / "nonexistent").exists() and not measured, "refused before measuring, created nothing"
    assert main(["bench-norm", "--out", str(tmp_path)]) == 2  # a directory is no file path either
    assert "is a directory" in capsys.readouterr().err
    out = tmp_path / "bn_cost.json"
    written = []
    real_writer = norm_cost.keys.write_if_changed
    monkeypatch.setattr(
        norm_cost.keys, "write_if_changed", lambda path, data: written.append(path) or real_writer(path, data)
    )
    assert main(["bench-norm", "--out", str(out)]) == 0
    first = out.stat()
    assert main(["bench-norm", "--out", str(out)]) == 0  # the same bytes again: the file is left alone
    assert written == [out, out] and out.stat().st_mtime_ns == first.st_mtime_ns and out.stat().st_ino == first.st_ino
    assert norm_cost.load_measurement(out) == fake_bench()
    assert [p.name for p in tmp_path.iterdir()] == ["bn_cost.json"], "no temporary file is left behind"


def _measurement_file(tmp_path, document) -> object:
    path = tmp_path / "bn_cost.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def test_load_measurement_reads_the_committed_file_and_rejects_broken_ones(tmp_path):
    committed = norm_cost.load_measurement()  # figures/data/bn_cost.json
    assert committed == json.loads(norm_cost.default_output().read_text(encoding="utf-8"))
    with pytest.raises(UserError, match="is missing: run `gradnotes bench-norm`"):
        norm_cost.load_measurement(tmp_path / "absent.json")
    with pytest.raises(UserError, match="not valid JSON"):
        norm_cost.load_measurement(_measurement_file(tmp_path, '{"format": 2, "results"'))
    with pytest.raises(UserError, match="lacks 'format'"):
        norm_cost.load_measurement(_measurement_file(tmp_path, {"results": {}}))
    old = {**committed, "format": 1}
    with pytest.raises(UserError, match="format 1, this gradnotes reads format 2"):
        norm_cost.load_measurement(_measurement_file(tmp_path, old))
    with pytest.raises(UserError, match="no results"):
        norm_cost.load_measurement(_measurement_file(tmp_path, {**committed, "results": {}}))
    gap = json.loads(json.dumps(committed))
    del gap["results"]["small"]["inference"]["batchnorm_folded"]["cpu_ms"]["q25"]
    with pytest.raises(UserError, match=r"lacks results\.small\.inference\.batchnorm_folded\.cpu_ms\.q25"):
        norm_cost.load_measurement(_measurement_file(tmp_path, gap))
    wrong = json.loads(json.dumps(committed))
    wrong["results"]["large"]["train"]["none"]["wall_ms"]["median"] = "fast"
    with pytest.raises(UserError, match=r"results\.large\.train\.none\.wall_ms\.median is not a number"):
        norm_cost.load_measurement(_measurement_file(tmp_path, wrong))
    for broken in (gap, wrong):  # every message is one line that says how to repair the file
        with pytest.raises(UserError) as caught:
            norm_cost.load_measurement(_measurement_file(tmp_path, broken))
        assert "\n" not in str(caught.value) and "gradnotes bench-norm" in str(caught.value)


def test_bn_cost_figure_reads_its_measurement_through_load_measurement(monkeypatch, tmp_path):
    module = gallery.load("bn_cost")
    monkeypatch.setattr(paths, "figures_dir", lambda: tmp_path)
    with pytest.raises(UserError, match="gradnotes bench-norm"):
        module.compute()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bn_cost.json").write_text('{"results": {}}')
    with pytest.raises(UserError, match="lacks"):
        module.compute()
