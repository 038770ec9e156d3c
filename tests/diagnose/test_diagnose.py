"""`gradnotes diagnose`: models with known pathologies get the right flags, healthy ones none, and no trace is left."""

from __future__ import annotations

import json
import math

import pytest
from support import PYTHON, ROOT, run

torch = pytest.importorskip("torch")
nn = torch.nn

import gradnotes.diagnose as dg  # noqa: E402
from gradnotes.__main__ import main  # noqa: E402
from gradnotes.diagnose.measure import _saturated  # noqa: E402
from gradnotes.diagnose.plot import LABELS  # noqa: E402
from gradnotes.errors import UserError  # noqa: E402

DOCS_SRC = ROOT / "docs_src" / "diagnose"
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def cross_entropy(model, batch):
    x, y = batch
    return nn.functional.cross_entropy(model(x), y)


def mlp(depth: int, width: int = 64, *, act=nn.ReLU, std: float | None = None, he: bool = False, bn: bool = False):
    """``depth`` hidden Linear(+BN)+activation blocks and a 10-way linear readout; seeded."""
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        if std is not None:
            nn.init.normal_(linear.weight, std=std)
            nn.init.zeros_(linear.bias)
        if he:
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        layers += [linear, nn.BatchNorm1d(width), act()] if bn else [linear, act()]
    return nn.Sequential(*layers, nn.Linear(width, 10))


def batch(n: int = 128, width: int = 64, classes: int = 10):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, width, generator=g), torch.randint(0, classes, (n,), generator=g)


def kinds(report: dg.Report) -> set[tuple[str, str]]:
    return {(f.kind, f.metric) for f in report.flags}


def assert_no_hooks(model: nn.Module) -> None:
    for name, module in model.named_modules():
        for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            assert not getattr(module, attr), f"{name or 'model'}.{attr} still holds a hook"


# --- the examples on the page (docs/diagnose.md) -------------------------------------------------------------------


def test_page_example_deep_sigmoid_vanishes_without_saturating():
    model, data, loss_fn = dg.load_factory(str(DOCS_SRC / "deep_sigmoid.py"))()
    report = dg.diagnose(model, data, loss_fn)
    # The page says: two vanishing flags, nothing else; the first layer's ‖∂L/∂W‖ is below a millionth of the last's,
    # shrinking at every Linear layer on the way back; and not one sigmoid unit is saturated (σ′ ≤ 1/4 suffices).
    assert kinds(report) == {("vanishing", "weight_grad_ratio"), ("vanishing", "backprop_grad_ratio")}
    linears = [r for r in report.layers if r.kind == "Linear"]
    assert len(linears) == 9
    assert linears[0].weight_grad_norm / linears[-1].weight_grad_norm < 1e-6
    assert all(a.weight_grad_norm < b.weight_grad_norm for a, b in zip(linears, linears[1:], strict=False))
    sigmoids = [r for r in report.layers if r.kind == "Sigmoid"]
    assert len(sigmoids) == 8 and all(r.saturated_fraction == 0.0 for r in sigmoids)
    assert all(r.act_mean == pytest.approx(0.5, abs=0.05) for r in sigmoids)


def test_page_example_he_relu_is_clean():
    model, data, loss_fn = dg.load_factory(str(DOCS_SRC / "he_relu.py"))()
    report = dg.diagnose(model, data, loss_fn)
    assert report.healthy, report.table()
    # The page says: the first/last ratio of ‖∂L/∂W‖ stays above 10⁻², and the hidden layers are within a factor 2.
    linears = [r for r in report.layers if r.kind == "Linear"]
    assert 1e-2 < linears[0].weight_grad_norm / linears[-1].weight_grad_norm < 1
    hidden = [r.weight_grad_norm for r in linears[1:-1]]
    assert max(hidden) < 2 * min(hidden)
    assert all(r.dead_fraction is not None and r.dead_fraction < 0.1 for r in report.layers if r.kind == "ReLU")


def test_page_example_from_python_runs(capsys):
    import runpy

    namespace = runpy.run_path(str(DOCS_SRC / "from_python.py"))
    out = capsys.readouterr().out
    assert "no problem flagged" in out and namespace["report"].healthy
    assert json.loads(namespace["log_line"])["layers"][1]["kind"] == "Tanh"


def test_page_includes_the_example_files():
    for page in ("diagnose.md", "diagnose.en.md"):
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        for example in (
            "deep_sigmoid.py",
            "he_relu.py",
            "from_python.py",
            "huge_init.py",
            "large_lr.py",
            "watch_loop.py",
        ):
            assert f'--8<-- "docs_src/diagnose/{example}"' in text, f"{page} does not include {example}"
        for claim in ("exit", "1e-3", "100", "--steps", "--report", "schema_version", "ln"):
            assert claim in text, f"{page} does not state {claim!r}"


# --- known pathologies ---------------------------------------------------------------------------------------------


def test_deep_sigmoid_with_default_init_flags_vanishing():
    report = dg.diagnose(mlp(10, act=nn.Sigmoid), batch(), cross_entropy)
    assert ("vanishing", "weight_grad_ratio") in kinds(report)
    flag = next(f for f in report.flags if f.metric == "weight_grad_ratio")
    assert flag.value < 1e-3 and flag.threshold == 1e-3 and flag.layer == "0"


def test_he_initialised_relu_mlp_is_clean():
    report = dg.diagnose(mlp(10, he=True), batch(), cross_entropy)
    assert report.healthy, report.table()


def test_batchnorm_mlp_is_clean_and_its_running_statistics_are_restored():
    model = mlp(10, bn=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = dg.diagnose(model, batch(), cross_entropy)
    assert report.healthy, report.table()
    bn_rows = [r for r in report.layers if r.kind == "BatchNorm1d"]
    assert len(bn_rows) == 10 and all(r.role == "norm" for r in bn_rows)
    assert all(r.act_std == pytest.approx(1.0, abs=0.05) for r in bn_rows)  # γ = 1, β = 0 at init
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "running_mean/var or num_batches_tracked changed"


def test_huge_init_flags_exploding():
    report = dg.diagnose(mlp(8, std=1.0), batch(), cross_entropy)  # N(0, 1): gain √(64/2) ≈ 5.7 per layer
    assert ("exploding", "backprop_grad_ratio") in kinds(report)
    assert ("exploding", "grad_data_ratio") in kinds(report)
    assert not report.flagged("non_finite")


def test_huge_init_in_a_deep_net_overflows_and_flags_non_finite():
    report = dg.diagnose(mlp(60, std=1.0), batch(), cross_entropy)  # 5.7⁶⁰ ≫ float32's 3.4e38
    assert {"loss", "activations", "gradients"} <= {f.metric for f in report.flagged("non_finite")}
    assert math.isnan(report.loss)
    first_bad = next(r for r in report.layers if r.nonfinite_activations)
    assert report.flagged("non_finite")[1].layer == first_bad.name
    text = json.dumps(report.to_dict())  # NaN/inf survive the round trip as floats
    again = json.loads(text)
    assert math.isnan(again["loss"]) and math.isnan(again["layers"][-1]["act_std"])


def test_small_init_flags_vanishing_through_the_backpropagated_gradient():
    # N(0, 0.01²): activations and δ both shrink ×0.08 per layer, so ∂L/∂W = δhᵀ stays level — only δ shows it.
    report = dg.diagnose(mlp(10, std=0.01), batch(), cross_entropy)
    assert ("vanishing", "backprop_grad_ratio") in kinds(report)
    assert ("vanishing", "weight_grad_ratio") not in kinds(report)


def test_tanh_with_large_weights_flags_saturation():
    report = dg.diagnose(mlp(6, act=nn.Tanh, std=0.5), batch(), cross_entropy)  # pre-activation std ≈ 4
    flagged = report.flagged("saturation")
    assert len(flagged) == 6 and all(f.value > 0.2 for f in flagged)


def test_dead_relu_units_are_those_negative_for_the_whole_batch():
    torch.manual_seed(0)
    first = nn.Linear(64, 40)
    with torch.no_grad():
        first.bias[:30] = -100.0  # 30 of 40 units can never fire on N(0, 1) inputs
    model = nn.Sequential(first, nn.ReLU(), nn.Linear(40, 10))
    report = dg.diagnose(model, batch(), cross_entropy)
    assert report.layer("1").dead_fraction == pytest.approx(30 / 40)
    assert report.flagged("dead_units")[0].layer == "1"


@pytest.mark.parametrize(
    "module", [nn.Sigmoid(), nn.Tanh(), nn.Softsign(), nn.Hardtanh()], ids=lambda m: type(m).__name__
)
def test_saturation_is_exactly_where_the_slope_is_below_5_percent_of_the_slope_at_zero(module):
    z = torch.linspace(-8, 8, 160_001, dtype=torch.float64, requires_grad=True)
    y = module(z)
    (slope,) = torch.autograd.grad(y.sum(), z)
    zero = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (slope_at_zero,) = torch.autograd.grad(module(zero).sum(), zero)
    expected = slope < 0.05 * slope_at_zero
    got = _saturated(module, y.detach(), 0.05)
    boundary = (slope / slope_at_zero - 0.05).abs() < 1e-6  # floating-point ties at the exact threshold
    assert torch.equal(got[~boundary], expected[~boundary])
    assert expected.any() and (~expected).any()


# --- architectures -------------------------------------------------------------------------------------------------


def test_cnn_with_inplace_relu_reports_conv_layers():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    )
    g = torch.Generator().manual_seed(0)
    data = torch.randn(16, 3, 8, 8, generator=g), torch.randint(0, 4, (16,), generator=g)
    report = dg.diagnose(model, data, nn.CrossEntropyLoss())  # a criterion works too: batch = (x, y)
    assert [r.kind for r in report.layers] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "ReLU", "Linear"]
    conv = report.layer("0")
    assert conv.role == "weight" and conv.grad_norm > 0 and conv.out_grad_rms > 0
    assert report.layer("4").dead_fraction is not None
    assert_no_hooks(model)


class TinyLSTM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(5, 16, num_layers=2, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        out, (h, c) = self.lstm(x)  # a tuple of tensors: the report uses the first, the output sequence
        return self.head(out[:, -1])


def test_lstm_reports_its_layers():
    torch.manual_seed(0)
    model = TinyLSTM()
    g = torch.Generator().manual_seed(0)
    report = dg.diagnose(
        model, (torch.randn(8, 20, 5, generator=g), torch.randint(0, 2, (8,), generator=g)), cross_entropy
    )
    assert [r.name for r in report.layers] == ["lstm", "head"]
    lstm = report.layer("lstm")
    assert lstm.kind == "LSTM" and lstm.parameters == sum(p.numel() for p in model.lstm.parameters())
    assert lstm.grad_norm > 0 and lstm.act_std > 0 and lstm.out_grad_rms > 0
    assert_no_hooks(model)


class TinyTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 32)
        self.enc = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, batch_first=True)
        self.head = nn.Linear(32, 50)

    def forward(self, x):
        return self.head(self.enc(self.emb(x)))


def test_transformer_encoder_layer_reports_attention_and_feed_forward():
    torch.manual_seed(0)
    model = TinyTransformer()
    tokens = torch.randint(0, 50, (4, 12), generator=torch.Generator().manual_seed(0))
    state = torch.get_rng_state()
    report = dg.diagnose(model, tokens, lambda m, x: nn.functional.cross_entropy(m(x).reshape(-1, 50), x.reshape(-1)))
    assert torch.equal(state, torch.get_rng_state()), "dropout in the pass consumed the reader's random stream"
    names = [r.name for r in report.layers]
    assert names == [
        "emb",
        "enc.self_attn",
        "enc.self_attn.out_proj",  # its forward never runs (MHA uses its weight directly): placed after its caller
        "enc.norm1",
        "enc.linear1",
        "enc.linear2",
        "enc.norm2",
        "head",
    ]
    out_proj = report.layer("enc.self_attn.out_proj")
    assert out_proj.calls == 0 and out_proj.act_std is None and out_proj.grad_norm > 0
    assert report.layer("emb").role == "embedding"
    assert report.healthy, report.table()
    assert_no_hooks(model)


def test_a_module_called_several_times_accumulates_over_calls():
    class Unrolled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cell = nn.Linear(8, 8)
            self.act = nn.Tanh()

        def forward(self, x):
            for _ in range(5):
                x = self.act(self.cell(x))
            return x

    model = Unrolled()
    report = dg.diagnose(model, torch.randn(4, 8), lambda m, x: m(x).pow(2).mean())
    assert report.layer("cell").calls == 5 and report.layer("act").calls == 5


# --- no trace left -------------------------------------------------------------------------------------------------


def test_hooks_grads_and_buffers_untouched_after_success_and_after_an_exception():
    model = mlp(3, bn=True)
    dg.diagnose(model, batch(), cross_entropy)
    assert_no_hooks(model)
    assert all(p.grad is None for p in model.parameters()), "diagnose must not write .grad"

    def broken(model, data):
        model(data[0])
        raise RuntimeError("boom")

    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match="boom"):
        dg.diagnose(model, batch(), broken)
    assert_no_hooks(model)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(
    ("loss_fn", "message"),
    [
        (lambda m, b: m(b[0]), "scalar"),
        (lambda m, b: 1.0, "scalar tensor"),
        (lambda m, b: m(b[0]).detach().mean(), "requires grad"),
    ],
    ids=["vector", "float", "detached"],
)
def test_a_loss_that_is_not_a_differentiable_scalar_is_a_user_error(loss_fn, message):
    model = mlp(2)
    with pytest.raises(UserError, match=message):
        dg.diagnose(model, batch(), loss_fn)
    assert_no_hooks(model)


def test_thresholds_are_parameters():
    report = dg.diagnose(mlp(10, he=True), batch(), cross_entropy, thresholds=dg.Thresholds(max_dead_fraction=1e-9))
    assert report.flagged("dead_units")  # the deeper ReLU layers have a few batch-dead units
    with pytest.raises(UserError):
        dg.Thresholds(max_saturated_fraction=1.5)


def test_table_has_one_row_per_layer():
    report = dg.diagnose(mlp(2), batch(), cross_entropy)
    lines = report.table().splitlines()
    assert lines[0].split()[:3] == ["#", "layer", "kind"]
    assert len(lines) == 2 + len(report.layers) + 2


def test_plot_labels_come_from_the_label_table():
    from gradnotes.site import style
    from gradnotes.site.labels import translator

    t = translator(LABELS)
    report = dg.diagnose(mlp(3, act=nn.Sigmoid), batch(), cross_entropy)
    for lang in ("ko", "en"):
        fig = dg.plot(report, lang)
        texts = {ax.get_ylabel() for ax in fig.axes} | {ax.get_xlabel() for ax in fig.axes}
        assert t("grad_data_ratio", lang) in texts and t("layer_forward_order", lang) in texts
        svg = style.save_svg(fig)  # raises on a glyph missing from every font
        assert svg.startswith(b"<?xml")


# --- command line --------------------------------------------------------------------------------------------------


def test_import_does_not_load_torch_or_matplotlib():
    code = "import sys, gradnotes.diagnose; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    done = run([PYTHON, "-c", code])
    assert done.returncode == 0 and done.stdout.split() == ["False", "False"], done.stderr


def test_cli_exit_status_is_1_when_flagged_and_0_when_healthy(tmp_path):
    flagged = run(
        [PYTHON, "-m", "gradnotes", "diagnose", "docs_src/diagnose/deep_sigmoid.py:make_model", "--table"], env=THREADS
    )
    assert flagged.returncode == 1, flagged.stderr
    verdict = flagged.stdout.split("\n\n")[1]  # the findings come first, the table after them
    assert verdict.startswith("1 problem: vanishing gradients through 8 sigmoid layers"), flagged.stdout
    assert "[vanishing]" in flagged.stdout and flagged.stdout.count(" Sigmoid ") == 8
    out = tmp_path / "he.svg"
    healthy = run(
        [
            PYTHON,
            "-m",
            "gradnotes",
            "diagnose",
            "docs_src/diagnose/he_relu.py",
            "--json",
            "--plot",
            str(out),
            "--lang",
            "ko",
        ],
        env=THREADS,
    )
    assert healthy.returncode == 0, healthy.stderr
    data = json.loads(healthy.stdout)
    assert data["healthy"] and data["flags"] == [] and len(data["layers"]) == 17
    assert out.read_bytes().startswith(b"<?xml")


def write(tmp_path, text: str):
    path = tmp_path / "factory.py"
    path.write_text(text, encoding="utf-8")
    return str(path)


MODEL = "import torch\nfrom torch import nn\n"
BAD_INPUTS = {
    "missing file": (lambda tmp: str(tmp / "nope.py") + ":make_model", "no such file"),
    "not a .py": (lambda tmp: "model.txt:make_model", "file.py:function"),
    "missing function": (lambda tmp: write(tmp, MODEL) + ":make_model", "defines no make_model()"),
    "syntax error": (lambda tmp: write(tmp, "def make_model(:\n"), "SyntaxError"),
    "import error": (lambda tmp: write(tmp, "import nosuchmodule_xyz\n"), "ModuleNotFoundError"),
    "wrong return": (
        lambda tmp: write(tmp, MODEL + "def make_model():\n    return nn.Linear(2, 2)\n"),
        "(model, batch, loss_fn)",
    ),
    "not a module": (lambda tmp: write(tmp, "def make_model():\n    return 1, 2, len\n"), "its model is a int"),
    "factory raises": (
        lambda tmp: write(tmp, "def make_model():\n    raise ValueError('no data here')\n"),
        "ValueError: no data here (factory.py:2)",
    ),
    "vector loss": (
        lambda tmp: write(
            tmp,
            MODEL + "def make_model():\n    m = nn.Linear(3, 2)\n    return m, torch.ones(4, 3), lambda m, x: m(x)\n",
        ),
        "must be a scalar",
    ),
    "forward fails": (
        lambda tmp: write(
            tmp,
            MODEL
            + "def make_model():\n    m = nn.Linear(3, 2)\n    return m, torch.ones(4, 5), lambda m, x: m(x).sum()\n",
        ),
        "RuntimeError",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, capsys):
    make_target, message = BAD_INPUTS[case]
    assert main(["diagnose", make_target(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert "Traceback" not in err


def test_bad_input_in_a_subprocess_has_no_traceback(tmp_path):
    for target in (
        write(tmp_path, "def make_model():\n    return 'model'\n") + ":make_model",
        str(tmp_path / "factory.py") + ":no_such_function",
    ):
        done = run([PYTHON, "-m", "gradnotes", "diagnose", target], env=THREADS)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    done = run([PYTHON, "-m", "gradnotes", "diagnose", "x.py", "--max-dead-fraction", "-1"])
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
