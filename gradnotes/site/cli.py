"""CLI subcommands of the site: list, build, clean (figures only; the notebooks build through their MkDocs hook)."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from gradnotes.site.labels import LANGS


def _cmd_list(args: argparse.Namespace) -> int:
    from gradnotes.site import gallery

    ids = gallery.discover()
    width = max(map(len, ids), default=0)
    for figure_id in ids:
        print(f"{figure_id:<{width}}  {gallery.summary(figure_id)}")
    return 0


def _figure_ids(args: argparse.Namespace) -> list[str] | None:
    from gradnotes.errors import UserError

    ids = list(args.ids)
    for group in args.only or []:
        parts = [part.strip() for part in group.split(",")]
        if not any(parts):
            raise UserError(f"--only {group!r} names no figure; give ids separated by commas (see `gradnotes list`)")
        ids += [part for part in parts if part]
    return ids or None


def _cmd_build(args: argparse.Namespace) -> int:
    from gradnotes import paths
    from gradnotes.site import gallery

    ids = _figure_ids(args)
    start = time.perf_counter()
    progress = False if args.quiet else None
    report = gallery.build(ids, langs=[args.lang] if args.lang else LANGS, force=args.force, progress=progress)
    if not args.quiet:
        elapsed = time.perf_counter() - start
        print(
            f"gradnotes: {len(report.changed)} file(s) written, {report.computed} figure(s) computed, "
            f"{report.rendered} rendering(s) in {elapsed:.1f} s → {paths.published_figures_dir()}"
        )
    # The explorer's grid, after the figures: its protocol-size networks are then the figures' cache entries.
    # Only for the site's own figures (not a scratch GRADNOTES_FIGURES_DIR): its default view is their data.
    own_figures = paths.figures_dir() == paths.ROOT / "figures"
    wanted = ids is None and not args.no_explorer and os.environ.get("GRADNOTES_EXPLORER", "1") != "0"
    if wanted and own_figures:
        from gradnotes.errors import FigureError
        from gradnotes.site import explorer, explorer_links

        done = explorer.build(force=args.force, progress=progress)
        explorer_links.write()
        try:
            explorer.check()
        except AssertionError as exc:
            raise FigureError(f"explorer: a statement of the explorer page fails on its data ({exc})") from None
        if not args.quiet:
            print(
                f"gradnotes: explorer: {done['computed']} shard(s) computed in {done['seconds']:.1f} s → "
                f"{explorer.out_dir()}"
            )
    return 0


def _cmd_clean(args: argparse.Namespace) -> int:
    from gradnotes.site import gallery

    removed = gallery.clean()
    print(f"gradnotes: removed {len(removed)} cache folder(s)/file(s)")
    return 0


def register_cli(subparsers: Any) -> None:
    """Add the list, build and clean subcommands."""
    raw = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser(
        "list",
        help="list every figure id with its one-line description",
        description="List every figure id (figures/<id>.py) with its one-line description, read without importing it.",
        epilog="examples:\n  gradnotes list\n  gradnotes list | grep bn_",
        formatter_class=raw,
    )
    p.set_defaults(func=_cmd_list)

    p = subparsers.add_parser(
        "build",
        help="render figures (both languages) into the cache the site publishes",
        description="Compute, check and render figures into <cache>/figures/<id>.<lang>.svg, then (without ids) the "
        "explorer's data grid into <cache>/explorer/. Only what changed is "
        "redone: a figure's data is recomputed when its source or what it imports changes, its SVG re-rendered when "
        "the style or its labels change. A figure whose claim fails its check fails the build (exit 1).",
        epilog="examples:\n  gradnotes build\n  gradnotes build --only init_grid,dead_relu\n"
        "  gradnotes build vanishing_exploding --lang en --force",
        formatter_class=raw,
    )
    p.add_argument("ids", nargs="*", help="figure ids (default: all; see `gradnotes list`)")
    p.add_argument("--only", action="append", metavar="ID[,ID]", help="figure ids, comma-separated (repeatable)")
    p.add_argument("--lang", choices=LANGS, help="one language only (default: all)")
    p.add_argument("--force", action="store_true", help="recompute and re-render even if the cache is current")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")
    p.add_argument(
        "--no-explorer",
        action="store_true",
        help="skip the explorer's data grid (also GRADNOTES_EXPLORER=0); it is built only when no ids are given",
    )
    p.set_defaults(func=_cmd_build)

    p = subparsers.add_parser(
        "clean",
        help="delete the cache (results, figure data, SVGs, notebooks)",
        description="Delete everything under the cache folder (GRADNOTES_CACHE, default .cache/gradnotes). The next "
        "build recomputes from scratch.",
        epilog="examples:\n  gradnotes clean\n  GRADNOTES_CACHE=/tmp/gn gradnotes clean",
        formatter_class=raw,
    )
    p.set_defaults(func=_cmd_clean)
