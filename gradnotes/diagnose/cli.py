"""``gradnotes diagnose FILE.py[:FUNCTION]``: load the reader's factory, diagnose it, print the table or JSON, plot."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradnotes.diagnose.measure import diagnose
from gradnotes.diagnose.plot import plot
from gradnotes.diagnose.rules import Thresholds
from gradnotes.errors import UserError
from gradnotes.strictjson import dumps

if TYPE_CHECKING:
    from gradnotes.diagnose.report import Report

EXIT_HEALTHY, EXIT_FLAGGED = 0, 1  # bad input (a UserError) exits 2 in gradnotes.__main__


def split_target(target: str) -> tuple[Path, str]:
    """``path/to/file.py:function`` → (path, function); the function defaults to ``make_model``."""
    path_text, sep, func_name = target.rpartition(":")
    if not sep or "/" in func_name or func_name.endswith(".py"):
        path_text, func_name = target, "make_model"
    return Path(path_text), func_name


def load_factory(target: str) -> Callable[[], Any]:
    """Import ``path/to/file.py:function`` (the function defaults to ``make_model``) and return the function."""
    path, func_name = split_target(target)
    if path.suffix != ".py":
        raise UserError(f"expected path/to/file.py:function, got {target!r}")
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    if not func_name.isidentifier():
        raise UserError(f"{func_name!r} is not a Python function name")
    module_name = f"_gradnotes_diagnose_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))  # the reader's file may import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UserError(f"importing {path} failed: {_describe(exc, path)}") from None
    finally:
        sys.path.remove(str(path.resolve().parent))
    factory = getattr(module, func_name, None)
    if factory is None:
        raise UserError(f"{path} defines no {func_name}()")
    if not callable(factory):
        raise UserError(f"{path}:{func_name} is not callable")
    return factory


def _describe(exc: BaseException, path: Path | None = None) -> str:
    """``Type: message (file.py:line)``: one line that still says where the reader's code failed."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.lineno:
        where = f" ({Path(exc.filename or '?').name}:{exc.lineno})"
    elif frames:
        mine = [f for f in frames if path is not None and Path(f.filename).resolve() == path.resolve()]
        frame = (mine or frames)[-1]
        where = f" ({Path(frame.filename).name}:{frame.lineno})"
    return f"{type(exc).__name__}{': ' + text if text else ''}{where}"


def run_factory(target: str, thresholds: Thresholds | None = None) -> Report:
    """Load the factory, check what it returns, and diagnose; every failure is a one-line ``UserError``."""
    factory = load_factory(target)  # before importing torch: a wrong path fails fast
    import torch

    path = split_target(target)[0]
    torch.manual_seed(0)  # a factory that forgets to seed still gives the same report twice
    try:
        made = factory()
    except Exception as exc:
        raise UserError(f"{target} raised {_describe(exc, path)}") from None
    if not (isinstance(made, (tuple, list)) and len(made) == 3):
        got = f"a {len(made)}-tuple" if isinstance(made, (tuple, list)) else type(made).__name__
        raise UserError(f"{target} must return (model, batch, loss_fn), got {got}")
    model, batch, loss_fn = made
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"{target} must return (model, batch, loss_fn); its model is a {type(model).__name__}")
    if not callable(loss_fn):
        raise UserError(f"{target} must return (model, batch, loss_fn); its loss_fn is a {type(loss_fn).__name__}")
    try:
        return diagnose(model, batch, loss_fn, thresholds=thresholds)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"the forward/backward pass failed: {_describe(exc, path)}") from None


_THRESHOLD_HELP = {
    "vanishing_ratio": "flag vanishing when a first/last-layer gradient ratio (‖∂L/∂W‖ or ‖∂L/∂y‖) is below this",
    "exploding_ratio": "flag exploding when a first/last-layer gradient ratio is above this",
    "max_grad_data_ratio": "flag exploding when a layer's ‖∇W‖/‖W‖ is above this",
    "saturation_slope": "saturated where φ′(z) < this × φ′(0)",
    "max_saturated_fraction": "flag a sigmoid/tanh layer with more saturated values than this",
    "max_dead_fraction": "flag a ReLU layer with more dead units than this",
    "max_initial_loss_ratio": "flag a cross-entropy loss at init above this × ln C",
    "max_spectral_radius": "flag a recurrent hidden-to-hidden weight whose spectral radius is above this",
    "max_update_ratio": "training: flag a layer whose median update:data ratio ‖ΔW‖/‖W‖ is above this",
    "min_update_ratio": "training: flag a layer whose median update:data ratio is below this",
}


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def _cmd_diagnose(args: argparse.Namespace) -> int:
    thresholds = Thresholds(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Thresholds)})
    if args.plot is not None and Path(args.plot).suffix.lower() not in (".svg", ".png", ".pdf"):
        raise UserError(f"--plot must end in .svg, .png or .pdf, got {args.plot}")
    report = run_factory(args.target, thresholds)
    if args.json:
        # strict JSON: NaN/inf become null; nonfinite_activations/nonfinite_gradients count what overflowed
        print(dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(f"gradnotes diagnose {args.target}: loss {report.loss:.4g}, {len(report.layers)} layer(s)\n")
        print(report.table())
    if args.plot is not None:
        from gradnotes.site import style

        out = Path(args.plot)
        fig = plot(report, args.lang)
        try:
            if out.suffix.lower() == ".svg":
                out.write_bytes(style.save_svg(fig))
            else:
                fig.savefig(out)
        except OSError as exc:
            raise UserError(f"cannot write {out}: {exc.strerror}") from None
    return EXIT_FLAGGED if report.flags else EXIT_HEALTHY


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``gradnotes diagnose FILE.py:FUNCTION``."""
    p = subparsers.add_parser(
        "diagnose",
        help="per-layer gradient/activation report for your own model (exit 1 if a problem is flagged)",
        description="Run make_model() from FILE.py, which returns (model, batch, loss_fn) with loss_fn(model, batch) "
        "-> scalar loss; print per-layer statistics and flagged problems. Exit status: 0 healthy, 1 problems "
        "flagged, 2 bad input.",
        epilog="examples:\n  gradnotes diagnose docs_src/diagnose/deep_sigmoid.py\n"
        "  gradnotes diagnose my_model.py:make_model --json > report.json\n"
        "  gradnotes diagnose my_model.py --plot layers.svg --lang ko",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", metavar="FILE.py[:FUNCTION]", help="the factory (FUNCTION defaults to make_model)")
    p.add_argument("--json", action="store_true", help="print the report as strict JSON (non-finite numbers are null)")
    p.add_argument("--plot", metavar="OUT.svg", help="write a per-layer plot (.svg, .png or .pdf)")
    p.add_argument("--lang", choices=("ko", "en"), default="en", help="language of the plot's labels")
    defaults = Thresholds()
    for f in dataclasses.fields(Thresholds):
        p.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=_positive,
            default=getattr(defaults, f.name),
            metavar="X",
            help=f"{_THRESHOLD_HELP[f.name]} (default {getattr(defaults, f.name):g})",
        )
    p.set_defaults(func=_cmd_diagnose)
