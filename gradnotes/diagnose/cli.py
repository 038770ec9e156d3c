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
from gradnotes.diagnose.plot import plot, plot_history
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
    except SystemExit as exc:
        raise UserError(
            f'importing {path} called sys.exit({exc.code!r}): guard the script part with `if __name__ == "__main__":`'
        ) from None
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


OOM_HINT = "reduce the batch size or the model's width/depth in the factory"


def _is_oom(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, MemoryError) or "out of memory" in text.lower() or "can't allocate memory" in text


def _is_device(exc: BaseException) -> bool:
    text = str(exc)
    return any(word in text for word in ("CUDA", "cuda", "MPS", "mps backend", "not compiled with", "XPU"))


def make(target: str) -> tuple[Any, Any, Any]:
    """Load and call the factory, check that it returns (model, batch, loss_fn); failures are one-line errors."""
    factory = load_factory(target)  # before importing torch: a wrong path fails fast
    import torch

    path = split_target(target)[0]
    torch.manual_seed(0)  # a factory that forgets to seed still gives the same report twice
    try:
        made = factory()
    except SystemExit as exc:
        raise UserError(
            f"{target} called sys.exit({exc.code!r}) instead of returning (model, batch, loss_fn)"
        ) from None
    except Exception as exc:
        if _is_oom(exc):
            raise UserError(f"{target} ran out of memory: {OOM_HINT}") from None
        if _is_device(exc):
            raise UserError(f"{target} asks for a device this machine lacks: {_describe(exc, path)}") from None
        raise UserError(f"{target} raised {_describe(exc, path)}") from None
    if not (isinstance(made, (tuple, list)) and len(made) == 3):
        got = f"a {len(made)}-tuple" if isinstance(made, (tuple, list)) else type(made).__name__
        raise UserError(f"{target} must return (model, batch, loss_fn), got {got}")
    model, batch, loss_fn = made
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"{target} must return (model, batch, loss_fn); its model is a {type(model).__name__}")
    if not callable(loss_fn):
        raise UserError(f"{target} must return (model, batch, loss_fn); its loss_fn is a {type(loss_fn).__name__}")
    if not any(True for _ in model.parameters()):
        raise UserError(f"{target}: the model has no parameters, so there is nothing to diagnose")
    return model, batch, loss_fn


def guarded(what: str, target: str, call: Callable[[], Any]) -> Any:
    """Run the pass (or the training); the reader's errors become one line, out-of-memory says what to reduce."""
    path = split_target(target)[0]
    try:
        return call()
    except UserError:
        raise
    except SystemExit as exc:
        raise UserError(f"{what} called sys.exit({exc.code!r})") from None
    except Exception as exc:
        if _is_oom(exc):
            raise UserError(f"out of memory during {what}: {OOM_HINT}") from None
        raise UserError(f"{what} failed: {_describe(exc, path)}") from None


def first_batch(data: Any) -> tuple[Any, Any]:
    """(the batch for the pass at initialisation, the data for training): a factory may return many batches."""
    import itertools
    from collections.abc import Iterator

    from gradnotes.diagnose.training import batches_of

    batches = batches_of(data)
    try:
        first = next(batches())
    except StopIteration:
        raise UserError("the factory's batches are empty") from None
    if isinstance(data, Iterator):  # a one-shot iterator: give the first batch back to training
        data = itertools.chain([first], data)
    return first, data


def run_factory(target: str, thresholds: Thresholds | None = None) -> Report:
    """Load the factory, check what it returns, and diagnose; every failure is a one-line ``UserError``."""
    model, data, loss_fn = make(target)
    batch, _ = first_batch(data)
    return guarded("the forward/backward pass", target, lambda: diagnose(model, batch, loss_fn, thresholds=thresholds))


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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer: {text!r}")
    return value


def _check_plot_path(plot_path: str | None) -> Path | None:
    if plot_path is None:
        return None
    out = Path(plot_path)
    if out.suffix.lower() not in (".svg", ".png", ".pdf"):
        raise UserError(f"--plot must end in .svg, .png or .pdf, got {plot_path}")
    if not out.parent.is_dir():
        raise UserError(f"--plot {plot_path}: no folder {out.parent}")
    return out


def _write_plot(out: Path, draw: Callable[[], Any]) -> None:
    """Draw and save; a drawing failure (a damaged font) is one line and leaves no half-written file."""
    from gradnotes.site import style

    try:
        fig = draw()
        data = style.save_svg(fig) if out.suffix.lower() == ".svg" else _raster(fig, out.suffix.lower()[1:])
    except UserError:
        raise
    except Exception as exc:
        raise UserError(
            f"drawing the plot failed ({_describe(exc)}): is a font damaged? reinstall matplotlib/koreanize-matplotlib"
        ) from None
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {out}: {exc.strerror}") from None


def _raster(fig: Any, fmt: str) -> bytes:
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=fmt)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _cmd_diagnose(args: argparse.Namespace) -> int:
    thresholds = Thresholds(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Thresholds)})
    out = _check_plot_path(args.plot)
    if args.report is not None:
        if args.target is not None or args.steps is not None:
            raise UserError("--report reads a watch log: give it without FILE.py and without --steps")
        return _cmd_report(args, thresholds, out)
    if args.target is None:
        raise UserError("give FILE.py[:FUNCTION] (a factory) or --report run.jsonl (a watch log)")
    if args.steps is None and (args.optimizer is not None or args.lr is not None):
        raise UserError("--optimizer and --lr need --steps N")
    model, data, loss_fn = make(args.target)
    batch, data = first_batch(data)
    report = guarded(
        "the forward/backward pass", args.target, lambda: diagnose(model, batch, loss_fn, thresholds=thresholds)
    )
    if args.steps is not None:
        from gradnotes.diagnose.training import train, training_findings

        history = guarded(
            "training",
            args.target,
            lambda: train(
                model, data, loss_fn, args.steps, optimizer=args.optimizer or "sgd", lr=args.lr, thresholds=thresholds
            ),
        )
        report.training = history
        report.findings = report.findings + training_findings(history, thresholds)
    if out is not None:
        if report.training is not None:
            _write_plot(out, lambda: plot_history(report.training, args.lang))
        else:
            _write_plot(out, lambda: plot(report, args.lang))
    if args.json:
        # strict JSON: NaN/inf become null; nonfinite_activations/nonfinite_gradients count what overflowed
        print(dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(f"gradnotes diagnose {args.target}: loss {report.loss:.4g}, {len(report.layers)} layer(s)")
        if report.training is not None:
            print(_training_line(report.training))
        print()
        print(report.summary())
        if args.table:
            print()
            print(report.table())
    return EXIT_FLAGGED if (report.flags or report.findings) else EXIT_HEALTHY


def _training_line(history: dict[str, Any]) -> str:
    losses = [r["loss"] for r in history["steps"] if r.get("loss") is not None]
    curve = f": loss {losses[0]:.4g} → {losses[-1]:.4g}" if losses else ""
    opt = history.get("optimizer") or "?"
    lr = history.get("lr")
    return (
        f"trained a copy for {history.get('steps_taken', len(history['steps']))} step(s) with {opt}"
        + (f" at lr {lr:g}" if lr else "")
        + curve
    )


def _cmd_report(args: argparse.Namespace, thresholds: Thresholds, out: Path | None) -> int:
    from gradnotes.diagnose.findings import render, verdict
    from gradnotes.diagnose.report import SCHEMA_VERSION
    from gradnotes.diagnose.training import training_findings
    from gradnotes.diagnose.watch import read_log

    history = read_log(args.report)
    findings = training_findings(history, thresholds)
    if out is not None:
        _write_plot(out, lambda: plot_history(history, args.lang))
    if args.json:
        data = {
            "schema_version": SCHEMA_VERSION,
            "healthy": not findings,
            "verdict": verdict(findings),
            "findings": [f.to_dict() for f in findings],
            "training": history,
        }
        print(dumps(data, indent=2, ensure_ascii=False))
    else:
        print(f"gradnotes diagnose --report {args.report}: {len(history['steps'])} recorded step(s)")
        print(_training_line(history))
        print()
        print(render(findings))
    return EXIT_FLAGGED if findings else EXIT_HEALTHY


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``gradnotes diagnose FILE.py:FUNCTION``."""
    p = subparsers.add_parser(
        "diagnose",
        help="per-layer gradient/activation report for your own model (exit 1 if a problem is flagged)",
        description="Run make_model() from FILE.py, which returns (model, batch, loss_fn) with loss_fn(model, batch) "
        "-> scalar loss; print the findings (verdict, evidence, probable cause, fix). With --steps, also train a copy "
        "for N steps; with --report, read a watch log instead. Exit status: 0 healthy, 1 problems found, 2 bad input.",
        epilog="examples:\n  gradnotes diagnose docs_src/diagnose/deep_sigmoid.py --table\n"
        "  gradnotes diagnose docs_src/diagnose/large_lr.py --steps 30 --lr 10\n"
        "  gradnotes diagnose --report run.jsonl --plot run.svg --lang ko\n"
        "  gradnotes diagnose my_model.py:make_model --json > report.json\n"
        "  gradnotes diagnose my_model.py --plot layers.svg --lang ko",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "target", metavar="FILE.py[:FUNCTION]", nargs="?", help="the factory (FUNCTION defaults to make_model)"
    )
    p.add_argument("--table", action="store_true", help="print the per-layer table after the findings")
    p.add_argument(
        "--steps",
        type=_positive_int,
        metavar="N",
        help="train a copy of the model for N steps and report the update:data ratio, loss, units over steps",
    )
    p.add_argument("--optimizer", choices=("sgd", "adam"), help="with --steps: the optimiser (default sgd)")
    p.add_argument(
        "--lr", type=_positive, metavar="LR", help="with --steps: learning rate (default 0.1 sgd, 1e-3 adam)"
    )
    p.add_argument("--report", metavar="RUN.jsonl", help="read a log written by gradnotes.diagnose.watch instead")
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
