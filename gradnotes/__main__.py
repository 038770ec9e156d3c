"""The ``gradnotes`` command: list | build | clean | simulate | theory | bench | diagnose."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence

from gradnotes.errors import FigureError, UserError

# Subcommands implemented elsewhere register themselves through register_cli(subparsers).
PLUGGED_MODULES = ("gradnotes.engine_cli", "gradnotes.costbench", "gradnotes.diagnose")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _cmd_list(args: argparse.Namespace) -> int:
    from gradnotes import figures

    ids = figures.discover()
    width = max(map(len, ids), default=0)
    for figure_id in ids:
        print(f"{figure_id:<{width}}  {figures.summary(figure_id)}")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from gradnotes import figures, paths

    ids = list(args.ids) + [i for group in args.only or [] for i in group.split(",") if i]
    langs = [args.lang] if args.lang else None
    start = time.perf_counter()
    report = figures.build(
        ids or None, langs=langs or ("ko", "en"), force=args.force, progress=False if args.quiet else None
    )
    if not args.quiet:
        elapsed = time.perf_counter() - start
        print(
            f"gradnotes: {len(report.changed)} file(s) written, {report.computed} figure(s) computed, "
            f"{report.rendered} rendering(s) in {elapsed:.1f} s → {paths.published_figures_dir()}"
        )
    return 0


def _cmd_clean(args: argparse.Namespace) -> int:
    from gradnotes import figures

    removed = figures.clean()
    print(f"gradnotes: removed {len(removed)} cache folder(s)/file(s)")
    return 0


def make_parser() -> argparse.ArgumentParser:
    """The full CLI parser, including the subcommands other modules register."""
    parser = _Parser(prog="gradnotes", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = subparsers.add_parser("list", help="list every figure id with its one-line description")
    p.set_defaults(func=_cmd_list)

    p = subparsers.add_parser("build", help="render figures (both languages) into the cache the site publishes")
    p.add_argument("ids", nargs="*", help="figure ids (default: all)")
    p.add_argument("--only", action="append", metavar="ID[,ID]", help="figure ids, comma-separated")
    p.add_argument("--lang", choices=("ko", "en"), help="one language only")
    p.add_argument("--force", action="store_true", help="recompute and re-render even if the cache is current")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")
    p.set_defaults(func=_cmd_build)

    p = subparsers.add_parser("clean", help="delete the cache (results, figure data, SVGs)")
    p.set_defaults(func=_cmd_clean)

    for name in PLUGGED_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # that part of the CLI is not built yet
            raise
        module.register_cli(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user errors print one line and return 2, a failed figure one line and 1."""
    args = make_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"gradnotes: error: {exc}", file=sys.stderr)
        return 2
    except FigureError as exc:
        print(f"gradnotes: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gradnotes: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
