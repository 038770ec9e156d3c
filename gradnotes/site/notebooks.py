"""Execute the site's notebooks (jupytext Markdown in docs/notebooks/) into the cache, once per content change.

``docs/notebooks/<topic>.md`` (Korean) and ``<topic>.en.md`` (English) are the sources. ``build()`` turns each into
``<cache>/notebooks/<lang>/<topic>.ipynb``: cell ids made deterministic (jupytext draws random ones), every cell
executed, execution timing left out, so the same inputs give the same bytes. mkdocs-jupyter renders these executed
notebooks as the pages (the MkDocs hook points the page at them) and publishes each next to its page as the download.

A notebook is re-executed only when its key changes: its source, the ``gradnotes`` modules it imports (transitively,
``keys.dependencies``, the same closure the figures use), or a library version; or when the executed file no
longer has the checksum its stamp records (a truncated or edited copy in the cache is rebuilt, never published).
Stale notebooks run on up to two kernels, one after another on each (``%reset -f`` between them): starting a kernel
and importing torch cost more than running a notebook. A failing cell fails the build with
one line naming the notebook and the error.

Run ``python -m gradnotes.site.notebooks [--force] [--quiet]``; exit status 0 done, 1 a notebook failed.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gradnotes import keys, paths

SOURCE_DIR = paths.notebooks_dir()  # docs/notebooks, or GRADNOTES_NOTEBOOKS_DIR
THIS_FILE = Path(__file__).resolve()
VERSIONED = ("torch", "numpy", "matplotlib", "matplotlib-inline", "ipykernel", "nbclient", "nbformat", "jupytext")
KERNEL = "python3"
CELL_TIMEOUT = 600  # seconds; a notebook cell here runs for about one


class NotebookError(Exception):
    """A notebook cell raised; the message names the notebook, the cell and the error."""


def sources() -> list[Path]:
    """Every notebook source, ``docs/notebooks/*.md`` (both languages)."""
    return sorted(SOURCE_DIR.glob("*.md"))


def language(source: Path) -> str:
    """``en`` for ``<topic>.en.md``, else ``ko`` (the default language)."""
    return "en" if source.name.endswith(".en.md") else "ko"


def topic(source: Path) -> str:
    """The topic of ``<topic>.md`` or ``<topic>.en.md``."""
    return source.name.removesuffix(".md").removesuffix(".en")


def out_dir() -> Path:
    """Where executed notebooks go: ``<cache>/notebooks``."""
    return paths.cache_dir() / "notebooks"


def executed_path(source: Path) -> Path:
    """``<cache>/notebooks/<lang>/<topic>.ipynb``: one file name in both languages, so pages link the same way."""
    return out_dir() / language(source) / f"{topic(source)}.ipynb"


def _versions() -> str:
    return f"python=={platform.python_version()};" + keys.versions(VERSIONED)


def dependencies(source: Path) -> list[Path]:
    """The package files a notebook's outputs can depend on: what its cells import, transitively, and this module.

    A notebook is re-executed when one of these changes, not on every edit anywhere in the package.
    """
    nb_code = "\n".join(cell.source for cell in read(source).cells if cell.cell_type == "code")
    return keys.dependencies(nb_code, extra=[THIS_FILE])


def key(source: Path, depends_on: Sequence[Path] | None = None) -> str:
    """The content key: notebook source + the package files it depends on + library versions."""
    files = dependencies(source) if depends_on is None else depends_on
    present = [path for path in files if path.is_file()]
    missing = sorted(str(path) for path in files if not path.is_file())
    return keys.content_key(source.read_bytes(), _versions(), *keys.sources_part(present), *missing)


def _stamp_path(target: Path) -> Path:
    return target.with_suffix(".key.json")


def _write_stamp(source: Path, executed: bytes) -> None:
    files = dependencies(source)
    stamp = {
        "key": key(source, files),
        "dependencies": [path.relative_to(paths.ROOT).as_posix() for path in files],
        "sha256": keys.sha256(executed),
    }
    keys.write_if_changed(_stamp_path(executed_path(source)), json.dumps(stamp, indent=1) + "\n")


def is_current(source: Path) -> bool:
    """True when the executed notebook exists, has the bytes its stamp records, and was made from the current inputs.

    The stamp lists the files the key was computed from, so the check needs no notebook parsing (it runs before
    every build): a changed source changes the key anyway, and so does a new import in a listed module.
    """
    target = executed_path(source)
    try:
        stamp = json.loads(_stamp_path(target).read_text())
        recorded, names, checksum = stamp["key"], stamp["dependencies"], stamp["sha256"]
        intact = keys.sha256(target.read_bytes()) == checksum
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return intact and recorded == key(source, [paths.ROOT / name for name in names])


def read(source: Path) -> Any:
    """The notebook of a jupytext Markdown source, with deterministic cell ids and no jupytext metadata."""
    import jupytext

    nb = jupytext.read(source)
    nb.metadata.pop("jupytext", None)  # the downloaded .ipynb is a plain notebook, not a paired one
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:02d}"  # jupytext draws random ids: they end up in the page's HTML
    return nb


def coalesce_streams(nb: Any) -> Any:
    """Merge consecutive stdout/stderr outputs of each cell: how the kernel chunks a stream depends on timing."""
    for cell in nb.cells:
        merged: list[Any] = []
        for output in cell.get("outputs", []):
            previous = merged[-1] if merged else None
            if (
                output.get("output_type") == "stream"
                and previous is not None
                and previous.get("output_type") == "stream"
                and previous.get("name") == output.get("name")
            ):
                previous["text"] += output["text"]
            else:
                merged.append(output)
        if "outputs" in cell:
            cell["outputs"] = merged
    return nb


def attach_alt_text(nb: Any, source: Path) -> Any:
    """Give each figure the alt text its cell declares (```python alt="..."```): nbconvert's own is a placeholder.

    The PNG becomes an HTML ``<img>`` output with that ``alt``, which both the site and Jupyter render.
    """
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        alt = cell.metadata.get("alt")
        texts = [alt] if isinstance(alt, str) else list(alt or [])
        if images and len(texts) != len(images):
            name = source.relative_to(paths.ROOT)
            raise NotebookError(
                f"{name}: cell {index} draws {len(images)} figure(s) but declares {len(texts)} alt text(s)"
            )
        for output, text in zip(images, texts, strict=True):
            png = output["data"].pop("image/png")
            output["data"]["text/html"] = f'<img src="data:image/png;base64,{png.strip()}" alt="{html.escape(text)}">'
            output.get("metadata", {}).pop("image/png", None)
    return nb


def _start_kernel(cwd: Path) -> Any:
    import zmq
    from jupyter_client.manager import KernelManager

    # CurveZMQ keys where available: ipykernel warns (a WARNING line in the build log) on unencrypted TCP.
    options = {"transport_encryption": "auto"} if zmq.has("curve") else {"transport": "ipc"}
    km = KernelManager(kernel_name=KERNEL, **options)
    km.start_kernel(cwd=str(cwd))
    return km


def _execute(nb: Any, km: Any, source: Path) -> Any:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    reset = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("%reset -f\nimport matplotlib.pyplot\nmatplotlib.pyplot.close('all')")]
    )
    client_options = {"timeout": CELL_TIMEOUT, "allow_errors": False, "record_timing": False, "kernel_name": KERNEL}
    try:
        NotebookClient(reset, km=km, **client_options).execute()  # a clean namespace for every notebook
        return NotebookClient(nb, km=km, **client_options).execute()
    except CellExecutionError as exc:
        cell = next(
            (i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))),
            "?",
        )
        raise NotebookError(f"{source.relative_to(paths.ROOT)}: cell {cell} raised {exc.ename}: {exc.evalue}") from None
    except (CellTimeoutError, DeadKernelError) as exc:
        raise NotebookError(
            f"{source.relative_to(paths.ROOT)}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None


def _jobs() -> int:
    env = os.environ.get("GRADNOTES_NOTEBOOK_JOBS")
    if env:
        return max(1, int(env))
    return min(2, os.cpu_count() or 1)  # a kernel per core: each notebook is one CPU-bound process


def _run_chunk(chunk: Sequence[Path], progress: bool) -> list[Path]:
    """Execute some notebooks one after another in one kernel; write each result."""
    import nbformat

    changed = []
    km = _start_kernel(out_dir())
    try:
        for source in chunk:
            began = time.perf_counter()
            executed = attach_alt_text(coalesce_streams(_execute(read(source), km, source)), source)
            target = executed_path(source)
            text = (nbformat.writes(executed) + "\n").encode()
            if keys.write_if_changed(target, text):
                changed.append(target)
            _write_stamp(source, text)
            if progress:
                print(f"gradnotes notebooks: {source.name} executed in {time.perf_counter() - began:.1f} s", flush=True)
    finally:
        km.shutdown_kernel(now=True)
    return changed


def build(
    force: bool = False, only: Sequence[Path] | None = None, progress: bool = True, jobs: int | None = None
) -> list[Path]:
    """Execute every stale notebook (all with ``force``) and return the executed files whose bytes changed."""
    from concurrent.futures import ThreadPoolExecutor

    chosen = list(only) if only is not None else sources()
    stale = [s for s in chosen if force or not is_current(s)]
    if not stale:
        return []
    start = time.perf_counter()
    out_dir().mkdir(parents=True, exist_ok=True)
    workers = max(1, min(jobs or _jobs(), len(stale)))
    chunks = [stale[i::workers] for i in range(workers)]  # results do not depend on which kernel runs what
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_run_chunk, chunk, progress) for chunk in chunks]
        changed = [path for future in futures for path in future.result()]  # re-raises a NotebookError
    if progress:
        elapsed = time.perf_counter() - start
        print(f"gradnotes notebooks: {len(stale)} executed in {elapsed:.1f} s ({workers} kernel(s))", flush=True)
    return sorted(changed)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gradnotes.site.notebooks``: execute stale notebooks; a failing cell is one line and exit status 1."""
    parser = argparse.ArgumentParser(prog="python -m gradnotes.site.notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="re-execute every notebook")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    try:
        build(force=args.force, progress=not args.quiet)
    except NotebookError as exc:
        print(f"gradnotes: error: notebook {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
