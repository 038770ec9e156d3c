"""Discover ``figures/<id>.py``, compute their data, prove their claims and render both languages into the cache.

A figure file provides a one-line docstring, ``compute() -> dict`` (JSON-able data, usually from
``gradnotes.cache.cached``), ``draw(data, lang) -> Figure`` (pure) and ``check(data)`` (the figure's claim, as
assertions on the data it draws). Two content keys decide what is redone — no mtimes:

* data key = figure source + the helpers it uses (``figures/_*.py``, ``figures/data/*.json``) + the
  non-presentation ``gradnotes`` modules + library versions;
* SVG key  = data key + ``style.py`` + ``i18n.py`` + language + matplotlib version.

Published files are replaced atomically and only when their bytes change, so ``mkdocs serve`` never loops.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from gradnotes import paths
from gradnotes.errors import FigureError, UserError
from gradnotes.i18n import LANGS

# Modules that only present results: editing them re-renders SVGs (style, labels) or nothing, never recomputes data.
PRESENTATION_MODULES = {
    "__init__.py",
    "__main__.py",
    "bench.py",
    "costbench.py",
    "diagnose.py",
    "engine_cli.py",
    "errors.py",
    "figures.py",
    "i18n.py",
    "mkdocs_hook.py",
    "notebook_hook.py",
    "notebooks.py",
    "paths.py",
    "style.py",
}
STYLE_MODULES = ("style.py", "i18n.py")
VERSIONED_PACKAGES = ("torch", "numpy", "matplotlib", "scikit-learn")
MANIFEST = "manifest.json"


def _sha256(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _versions() -> str:
    found = []
    for name in VERSIONED_PACKAGES:
        try:
            found.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name}==absent")
    return ";".join(found)


def _sources(files: Iterable[Path]) -> list[bytes]:
    return [p.name.encode() + b"\0" + p.read_bytes() for p in sorted(files)]


def discover() -> list[str]:
    """Every figure id (the stems of ``figures/*.py`` not starting with ``_``), sorted."""
    return sorted(p.stem for p in paths.figures_dir().glob("*.py") if not p.stem.startswith("_"))


def _check_ids(ids: Iterable[str]) -> list[str]:
    known = discover()
    wanted = list(ids)
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise UserError(f"unknown figure id {unknown[0]!r}; valid ids: {', '.join(known)}")
    return wanted


_LOADED: dict[tuple[Path, str], ModuleType] = {}


def load(figure_id: str) -> ModuleType:
    """Import ``figures/<id>.py`` by path (figure files import with no side effects); memoised per source text."""
    _check_ids([figure_id])
    if str(paths.figures_dir()) not in sys.path:
        sys.path.insert(0, str(paths.figures_dir()))  # lets figures import their helpers, figures/_*.py
    path = paths.figures_dir() / f"{figure_id}.py"
    memo_key = (path, _sha256(path.read_bytes()))
    if memo_key in _LOADED:
        return _LOADED[memo_key]
    name = f"gradnotes_figure_{figure_id}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise FigureError(f"figure {figure_id!r}: cannot import {path.name}: {exc}") from exc
    for attr in ("compute", "draw", "check"):
        if not callable(getattr(module, attr, None)):
            raise FigureError(f"figure {figure_id!r}: {path.name} must define {attr}()")
    if not (module.__doc__ or "").strip():
        raise FigureError(f"figure {figure_id!r}: {path.name} needs a one-line docstring")
    _LOADED[memo_key] = module
    return module


def summary(figure_id: str) -> str:
    """The figure's one-line docstring."""
    return (load(figure_id).__doc__ or "").strip().splitlines()[0]


def _inputs_of(figure_source: str) -> list[Path]:
    """The helpers (``figures/_*.py``) and committed data (``figures/data/*.json``) a figure refers to, transitively."""
    folder = paths.figures_dir()
    candidates = sorted(folder.glob("_*.py")) + sorted((folder / "data").glob("*.json"))
    used: list[Path] = []
    texts = [figure_source]
    while texts:
        text = texts.pop()
        for path in candidates:
            if path not in used and re.search(rf"\b{re.escape(path.stem)}\b", text):
                used.append(path)
                if path.suffix == ".py":
                    texts.append(path.read_text(encoding="utf-8"))
    return used


def data_key(figure_id: str) -> str:
    """Content key of a figure's data: its source, the helpers and data it uses, the engine's source, versions."""
    package = Path(__file__).parent
    engine = [p for p in package.glob("*.py") if p.name not in PRESENTATION_MODULES]
    figure = paths.figures_dir() / f"{figure_id}.py"
    source = figure.read_bytes()
    # Only the helpers this figure uses: editing one figure group's helper must not recompute the others.
    inputs = _inputs_of(source.decode("utf-8"))
    return _sha256("data-v2", figure_id, source, *_sources(inputs), *_sources(engine), _versions())


def svg_key(figure_id: str, lang: str, key_of_data: str) -> str:
    """Content key of one rendered language: the data key plus style, labels and matplotlib's version."""
    package = Path(__file__).parent
    style = _sources(package / name for name in STYLE_MODULES)
    return _sha256("svg-v1", key_of_data, lang, *style, importlib.metadata.version("matplotlib"))


def _atomic_write(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` only if the bytes differ; never leave a half-written file. True if written."""
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; published files are ordinary readable files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _data_path(figure_id: str) -> Path:
    return paths.cache_dir() / "data" / f"{figure_id}.json"


def _load_cached_data(figure_id: str, key: str) -> dict | None:
    """The cached data if present, for this key, and intact (checksum); otherwise None (a corrupt entry is rebuilt)."""
    path = _data_path(figure_id)
    if not path.is_file():
        return None
    try:
        envelope = json.loads(path.read_text(encoding="utf-8"))
        payload = envelope["payload"]
        intact = envelope["sha256"] == _sha256(json.dumps(payload, sort_keys=True))
    except (ValueError, KeyError, TypeError):
        intact, envelope = False, {}
    if not intact:
        print(f"gradnotes: cache entry for {figure_id!r} is corrupt; recomputing", file=sys.stderr)
        return None
    return payload if envelope.get("key") == key else None


class _one_thread:
    """Compute every figure with one torch thread (the engine reads GRADNOTES_THREADS): the same bits in a worker
    or not, and two build workers never oversubscribe the cores."""

    def __enter__(self) -> None:
        import torch

        self.before = torch.get_num_threads(), os.environ.get("GRADNOTES_THREADS")
        torch.set_num_threads(1)
        os.environ["GRADNOTES_THREADS"] = "1"

    def __exit__(self, *exc: object) -> None:
        import torch

        threads, env = self.before
        torch.set_num_threads(threads)
        if env is None:
            os.environ.pop("GRADNOTES_THREADS", None)
        else:
            os.environ["GRADNOTES_THREADS"] = env


def compute_data(figure_id: str, *, force: bool = False) -> dict:
    """The figure's data, from the cache when its key is unchanged, else computed and stored."""
    module = load(figure_id)
    key = data_key(figure_id)
    data = None if force else _load_cached_data(figure_id, key)
    if data is None:
        try:
            with _one_thread():
                data = module.compute()
            text = json.dumps(data, sort_keys=True)  # NaN/inf allowed: an exploding run is data, not an error
        except UserError:
            raise
        except Exception as exc:
            raise FigureError(f"figure {figure_id!r}: compute() failed: {_describe(exc)}") from exc
        data = json.loads(text)  # what the cache will return next time, so draw/check see identical values
        envelope = {"key": key, "sha256": _sha256(text), "payload": data}
        _atomic_write(_data_path(figure_id), json.dumps(envelope, sort_keys=True).encode())
    return data


def _describe(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" ({Path(frame.filename).name}:{frame.lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


def check_claim(figure_id: str, data: dict) -> None:
    """Run the figure's ``check``; a failed claim raises FigureError naming the figure and the claim."""
    try:
        load(figure_id).check(data)
    except AssertionError as exc:
        raise FigureError(f"figure {figure_id!r}: claim failed: {exc or 'assertion without message'}") from exc


def render(figure_id: str, lang: str, data: dict | None = None) -> bytes:
    """SVG bytes of one figure in one language (computing or loading its data as needed)."""
    from gradnotes import style

    if lang not in LANGS:
        raise UserError(f"unknown language {lang!r}; valid: {', '.join(LANGS)}")
    if data is None:
        data = compute_data(figure_id)
    module = load(figure_id)
    try:
        fig = module.draw(data, lang)
        return style.save_svg(fig)
    except UserError:
        raise
    except Exception as exc:
        raise FigureError(f"figure {figure_id!r} ({lang}): draw() failed: {_describe(exc)}") from exc


@dataclass
class BuildReport:
    """What a build did: files rewritten, and how many figures needed computing or rendering."""

    changed: list[Path]
    computed: int
    rendered: int


def _read_manifest(out: Path) -> dict:
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        return manifest if isinstance(manifest.get("figures"), dict) else {"figures": {}}
    except (OSError, ValueError, AttributeError):
        return {"figures": {}}


def jobs_default() -> int:
    """Worker processes for a build: GRADNOTES_JOBS, else one per core (at most 4)."""
    env = os.environ.get("GRADNOTES_JOBS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise UserError(f"GRADNOTES_JOBS must be a positive integer, not {env!r}")
        return int(env)
    return max(1, min(4, os.cpu_count() or 1))


def _pending(figure_id: str, langs: list[str], out: Path, manifest: dict, force: bool) -> list[str]:
    """The languages of a figure whose published SVG is missing, corrupt or keyed on other inputs."""
    key = data_key(figure_id)
    entry = manifest["figures"].get(figure_id, {})
    todo = []
    for lang in langs:
        target = out / f"{figure_id}.{lang}.svg"
        known = entry.get(lang, {})
        intact = target.is_file() and known.get("sha256") == hashlib.sha256(target.read_bytes()).hexdigest()
        if force or not intact or known.get("key") != svg_key(figure_id, lang, key):
            todo.append(lang)
    return todo


def _build_one(figure_id: str, langs: list[str], force: bool) -> tuple[dict, list[Path], int, int]:
    """Compute (or load), check and render one figure; returns (manifest entries, changed, computed, rendered)."""
    out = paths.published_figures_dir()
    key = data_key(figure_id)
    had = None if force else _load_cached_data(figure_id, key)
    data = had if had is not None else compute_data(figure_id, force=force)
    check_claim(figure_id, data)
    entries: dict = {}
    changed: list[Path] = []
    for lang in langs:
        target = out / f"{figure_id}.{lang}.svg"
        svg = render(figure_id, lang, data)
        if _atomic_write(target, svg):
            changed.append(target)
        entries[lang] = {
            "file": target.name,
            "key": svg_key(figure_id, lang, key),
            "sha256": hashlib.sha256(svg).hexdigest(),
        }
    return entries, changed, int(had is None), len(langs)


def _worker_init() -> None:
    # One thread per worker: the workers already fill the cores, and oversubscription makes torch crawl.
    import torch

    torch.set_num_threads(1)


def build(
    ids: Iterable[str] | None = None,
    *,
    langs: Iterable[str] = LANGS,
    force: bool = False,
    progress: bool | None = None,
    jobs: int | None = None,
) -> BuildReport:
    """Bring the published SVGs of ``ids`` (default: all) up to date, in parallel processes; return what changed.

    Every figure is attempted; failures (a raising figure, a failed claim) are reported together at the end and leave
    no file behind for the failed figure.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from tqdm import tqdm

    wanted = _check_ids(ids) if ids is not None else discover()
    langs = list(langs)
    for lang in langs:
        if lang not in LANGS:
            raise UserError(f"unknown language {lang!r}; valid: {', '.join(LANGS)}")
    out = paths.published_figures_dir()
    out.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(out)
    todo = {figure_id: pending for figure_id in wanted if (pending := _pending(figure_id, langs, out, manifest, force))}
    report = BuildReport(changed=[], computed=0, rendered=0)
    failures: list[str] = []
    # disable=None: tqdm shows the bar only on a terminal.
    bar = tqdm(total=len(todo), unit="fig", disable=None if progress is None else not progress)

    def collect(figure_id: str, outcome) -> None:
        bar.update(1)
        bar.set_postfix_str(figure_id)
        if isinstance(outcome, BaseException):
            failures.append(str(outcome) if isinstance(outcome, FigureError) else f"figure {figure_id!r}: {outcome}")
            return
        entries, changed, computed, rendered = outcome
        manifest["figures"].setdefault(figure_id, {}).update(entries)
        report.changed.extend(changed)
        report.computed += computed
        report.rendered += rendered
        _atomic_write(out / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())

    workers = min(jobs or jobs_default(), len(todo))
    if workers <= 1:
        for figure_id, pending in todo.items():
            try:
                collect(figure_id, _build_one(figure_id, pending, force))
            except (FigureError, UserError) as exc:
                collect(figure_id, exc)
    else:
        # spawn, not fork: forking a process that has imported torch is unsafe.
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init) as pool:
            futures = {pool.submit(_build_one, i, pending, force): i for i, pending in todo.items()}
            for future in as_completed(futures):
                exc = future.exception()
                collect(futures[future], exc if exc is not None else future.result())
    bar.close()
    # Figures whose source is gone must not linger on the site.
    for stale in sorted(set(manifest["figures"]) - set(discover())):
        for lang in LANGS:
            (out / f"{stale}.{lang}.svg").unlink(missing_ok=True)
        del manifest["figures"][stale]
    _atomic_write(out / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    if failures:
        raise FigureError(" | ".join(sorted(failures)))
    return BuildReport(changed=sorted(report.changed), computed=report.computed, rendered=report.rendered)


def published() -> dict[str, dict[str, Path]]:
    """Published SVG paths per figure id and language, as recorded in the manifest."""
    out = paths.published_figures_dir()
    result: dict[str, dict[str, Path]] = {}
    for figure_id, entry in _read_manifest(out)["figures"].items():
        files = {lang: out / info["file"] for lang, info in entry.items() if (out / info["file"]).is_file()}
        result[figure_id] = files
    return result


def clean() -> list[Path]:
    """Remove every cached result, datum and SVG; return what was removed."""
    import shutil

    root = paths.cache_dir()
    removed = [p for p in sorted(root.iterdir())] if root.is_dir() else []
    for path in removed:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return removed


def main_for(figure_file: str) -> None:
    """Entry point of ``python figures/<id>.py``: rebuild that one figure in both languages and say where it went."""
    figure_id = Path(figure_file).stem
    try:
        report = build([figure_id], progress=False)
    except (UserError, FigureError) as exc:
        print(f"gradnotes: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    for lang in LANGS:
        target = paths.published_figures_dir() / f"{figure_id}.{lang}.svg"
        state = "written" if target in report.changed else "unchanged"
        print(f"{target} ({state})")
