"""Every PyTorch snippet shown on a page is a real file under docs_src/: run each, check its output and its speed."""

from __future__ import annotations

import re
import runpy
import time
import warnings

import pytest
import torch
from support import ARTIFACTS, ROOT

SNIPPETS = ROOT / "docs_src"
DOCS = ROOT / "docs"
INCLUDE = re.compile(r'--8<--\s+"(docs_src/[^"]+)"')
# How long each snippet took (torch already imported), for a person to read: a page's example should stay instant,
# but a speed target is a benchmark, never a timed assertion on this shared, noisy machine.
TIMES = ARTIFACTS / "snippet-seconds.tsv"
# The folders of the outline's pages; other folders (e.g. diagnose/) belong to other pages and are run, not described.
PAGE_FOLDERS = (
    "vanishing_exploding",
    "activations",
    "initialization",
    "batch_normalization",
    "layer_normalization",
    "beyond",
    "normalization_family",
    "rnn_gradients",
    "initialization_beyond",
)

# What each snippet must print: the claim a reader sees when they run it.
EXPECTED_OUTPUT = {
    "activations/dead_units.py": [
        r"ReLU\s+dead units: \d+/128, gradient reaching them: 0\n",
        r"LeakyReLU dead units: \d+/128, gradient reaching them: [1-9]",
    ],
    "activations/derivatives.py": [r"max sigmoid' = 0\.25\n", r"Leaky ReLU' for z < 0 = 0\.01\n"],
    "activations/exercises.py": [
        r"sigmoid'\(0\) = 0\.25, sigmoid'\(5\) = 0\.0066, tanh'\(2\) = 0\.0707",
        r"E\[leaky'\^2\] = 0\.50005, leaky gain = 1\.4141",
        r"a\^5 = 1e-10",
        r"bound \(1/4\)\^19 = 10\^-11\.44, theory 10\^-11\.96, measured 10\^-11\.95",
    ],
    "batch_normalization/algorithm.py": [r"Algorithm 1 == nn\.BatchNorm1d"],
    "batch_normalization/exercises.py": [
        r"BN\(\[1, 2, 3, 4\]\) = \[-1\.342, -0\.447, 0\.447, 1\.342\]",
        r"running_mean = 0\.250, running_var = 1\.0667",
        r"weights x10: same output True, gradient ratio 0\.100",
        r"batch of 2: \|BN\(x\)\| from 1\.0000 to 1\.0000",
    ],
    "batch_normalization/fuse.py": [r"fused: Linear\(in_features=64, out_features=32, bias=True\)"],
    "batch_normalization/train_eval.py": [r"running mean ~", r"train mode, batch of 1: Expected more than 1 value"],
    "beyond/clipping.py": [r"returned (\S+), norm before \1, after 1\.000"],
    "beyond/exercises.py": [
        r"by norm: returned 5\.0, grad \[0\.6, 0\.8\]",
        r"by value: grad \[1\.0, 1\.0\], 8\.1 degrees",
        r"with an inf: returned inf, grad \[0\.0, nan\]",
        r"dL/dx == upstream with the shortcut True, \|dL/dx\| without it = 0\.0",
        r"residual=False: theory 10\^-11\.96, measured 10\^-11\.95",
        r"residual=True: theory 10\^0\.48, measured 10\^0\.48",
    ],
    "beyond/measure_gradients.py": [r"0\.weight\s+grad .*grad/data", r"first/last = \d\.\de-\d\d"],
    "beyond/residual.py": [r"plain \d\.\d\de-\d\d, residual \d\.\d\de[+-]\d\d"],
    "initialization/depth_scale.py": [
        r"xavier_normal E\[h_30\^2\] = \S+e-\d\d",
        r"he_normal\s+E\[h_30\^2\] = [0-9.]+\n",
    ],
    "initialization/exercises.py": [
        r"He, n_in=512: bound 0\.108, std 0\.0625",
        r"Xavier, 784->256: bound 0\.0760, std 0\.0439",
        r"below 1e-6 after 20 layers",
        r"naive 1\.5\^19 = 2\.2e\+03; theory 10\^0\.38, measured 10\^0\.39",
    ],
    "initialization/gains.py": [r"tanh\s+1\.6667", r"relu\s+1\.4142", r"selu\s+0\.7500"],
    "initialization/torch_default.py": [r"default std / He std = 0\.408"],
    "initialization/xavier_he.py": [r"Xavier: bound 0\.1000, std 0\.0577", r"He:\s+bound 0\.1225, std 0\.0707"],
    "layer_normalization/exercises.py": [
        r"LN\(\[2, 4, 6, 8\]\) = \[-1\.342, -0\.447, 0\.447, 1\.342\]",
        r"LayerNorm\(512\): \(1024, 0\), BatchNorm1d\(512\): \(1024, 1025\)",
        r"max \|sum\| = \de-1\d, max \|cos\(grad, x\)\| = 9e-06",
    ],
    "layer_normalization/layernorm.py": [r"train == eval"],
    "layer_normalization/rnn_cell.py": [r"hidden state after 50 steps: \(4, 32\)"],
    "layer_normalization/sigmoid_offset.py": [
        r"after LN: per-unit offsets 0\.9\d, sample-dependent part 0\.3\d\d \(BN: 0, 1\)"
    ],
    "normalization_family/exercises.py": [r"'GroupNorm': 784", r"running_mean = 0\.651", r"x \+ branch\(x\) == x"],
    "normalization_family/family.py": [r"LayerNorm == GroupNorm\(1, C\)", r"momentum = 0\.1"],
    "rnn_gradients/bptt.py": [r"product == autograd: True; \|\|dh_T/dh_0\|\| = \S+ <= s_max\^T"],
    "rnn_gradients/exercises.py": [r"forget bias 0: sigma = 0\.500, sigma\^20 = 9\.5e-07", r"sigma\^20 = 1\.9e-03"],
    "initialization_beyond/exercises.py": [r"critical sigma_w\^2 at q\* = 1/64: 1\.031", r"zero singular values"],
    "initialization_beyond/lecun_orthogonal.py": [r"LeCun normal: std 0\.03\d\d", r"from 1\.0000 to 1\.0000"],
    "initialization_beyond/symmetry.py": [r"constant init 1, random init 8"],
    "vanishing_exploding/chain_rule.py": [r"chain-rule product == autograd: True"],
    "vanishing_exploding/exercises.py": [
        r"at most \(1/4\)\^10 = 9\.5e-07",
        r"1\.1\^50 = 117, 0\.9\^50 = 5\.2e-03",
        r"sqrt\(2\)\^29 = 2\.3e\+04, mean-field theory 10\^4\.36",
        r"measured: 10\^4\.\d\d",
    ],
    "vanishing_exploding/per_layer_gradients.py": [
        r"sigmoid, sigma_w=1: first/last layer gradient = \S+e-\d\d",
        r"ReLU,    sigma_w=2: first/last layer gradient = \S+e\+0\d",
    ],
}


def snippet_files() -> list[str]:
    return sorted(str(p.relative_to(SNIPPETS)) for p in SNIPPETS.rglob("*.py"))


def test_every_snippet_has_expectations():
    ours = [name for name in snippet_files() if name.split("/")[0] in PAGE_FOLDERS]
    assert ours == sorted(EXPECTED_OUTPUT), "add the new snippet's expected output here"


@pytest.mark.parametrize("name", snippet_files())
def test_snippet_runs_asserts_and_prints(name, capsys):
    torch.set_num_threads(1)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a snippet a reader copies must not warn
        namespace = runpy.run_path(str(SNIPPETS / name), run_name="__main__")  # its own asserts state its claims
        if callable(namespace.get("make_model")):  # a model file for `gradnotes diagnose FILE:make_model`
            model, batch, loss_fn = namespace["make_model"]()
            loss = loss_fn(model, batch)
            loss.backward()
            assert torch.isfinite(loss), f"{name}: make_model() gives a non-finite loss"
    elapsed = time.perf_counter() - start
    printed = capsys.readouterr().out
    for pattern in EXPECTED_OUTPUT.get(name, []):
        assert re.search(pattern, printed), f"{name} did not print {pattern!r}; printed:\n{printed}"
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    with TIMES.open("a", encoding="utf-8") as out:
        out.write(f"{name}\t{elapsed:.2f}\n")


def test_every_snippet_is_shown_in_both_languages_and_only_snippets_are_included():
    included: dict[str, set[str]] = {"ko": set(), "en": set()}
    for page in DOCS.rglob("*.md"):
        lang = "en" if page.name.endswith(".en.md") else "ko"
        for path in INCLUDE.findall(page.read_text(encoding="utf-8")):
            assert (ROOT / path).is_file(), f"{page.name} includes a missing file {path}"
            included[lang].add(path)
    expected = {f"docs_src/{name}" for name in snippet_files()}
    assert included["ko"] == expected, f"not on a Korean page: {sorted(expected - included['ko'])}"
    assert included["en"] == expected, f"not on an English page: {sorted(expected - included['en'])}"
