"""The ``gradnotes`` command: list | build | clean | simulate | theory | bench | bench-norm | diagnose."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from gradnotes.diagnose import cli as diagnose_cli
from gradnotes.engine import cli as engine_cli
from gradnotes.errors import FigureError, UserError
from gradnotes.experiments import norm_cost
from gradnotes.site import cli as site_cli


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def make_parser() -> argparse.ArgumentParser:
    """The full CLI parser: each product registers its own subcommands."""
    parser = _Parser(prog="gradnotes", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for product in (site_cli, engine_cli, norm_cost, diagnose_cli):
        product.register_cli(subparsers)
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
    except BrokenPipeError:
        # `gradnotes simulate | head`: the reader closed the pipe; stop quietly, as any Unix filter does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a filter stopped by a closed pipe


if __name__ == "__main__":
    sys.exit(main())
