"""Discover ``figures/<id>.py``, compute their data, prove their claims and render both languages into the cache.

A figure file provides a one-line docstring, ``compute() -> dict`` (JSON-able data, usually from
``gradnotes.engine.cache.cached_many``), ``draw(data, lang) -> Figure`` (pure), ``check(data)`` (the figure's claim,
as assertions on the data it draws) and optionally ``LABELS`` (its own texts, merged over the glossary). Two content
keys decide what is redone — no mtimes, no lists of modules kept by hand:

* data key = the figure's source (without its ``LABELS``) + everything it imports, transitively, read from the AST
  (``keys.dependencies``: ``gradnotes`` modules outside ``gradnotes.site`` and the ``figures/_*.py`` helpers) + the
  committed data files those sources name (``figures/data/*``) + library versions;
* SVG key  = data key + ``site/style.py`` + the label texts the figure drew (recorded at render time, kept in the
  manifest) + language + matplotlib's version.

Published files go through ``keys.write_if_changed``, so ``mkdocs serve`` never loops. One build at a time holds the
build lock, and each build merges its figures into the manifest it re-reads under that lock: two builds of different
subsets never drop each other's figures.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import os
import sys
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from gradnotes import keys, paths
from gradnotes.errors import FigureError, UserError
from gradnotes.site.labels import LANGS

MANIFEST = "manifest.json"
DATA_VERSIONS = ("torch", "numpy", "scikit-learn")
PRESENTATION = ("gradnotes.site",)  # its code draws; it never decides a figure's numbers
STYLE_FILE = Path(__file__).resolve().parent / "style.py"
ENGINE_CACHE = Path(__file__).resolve().parents[1] / "engine" / "cache.py"


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


def source_path(figure_id: str) -> Path:
    """``figures/<id>.py``."""
    return paths.figures_dir() / f"{figure_id}.py"


_LOADED: dict[tuple[Path, str], ModuleType] = {}


def load(figure_id: str) -> ModuleType:
    """Import ``figures/<id>.py`` by path (figure files import with no side effects); memoised per source text."""
    _check_ids([figure_id])
    if str(paths.figures_dir()) not in sys.path:
        sys.path.insert(0, str(paths.figures_dir()))  # lets figures import their helpers, figures/_*.py
    path = source_path(figure_id)
    memo_key = (path, keys.sha256(path.read_bytes()))
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
    """The figure's one-line docstring, read from the source without importing it (``gradnotes list`` stays fast)."""
    _check_ids([figure_id])
    path = source_path(figure_id)
    try:
        doc = ast.get_docstring(keys.parse(path.read_text(encoding="utf-8")))
    except SyntaxError as exc:
        raise FigureError(f"figure {figure_id!r}: {path.name} does not parse: {exc.msg} (line {exc.lineno})") from None
    if not doc:
        raise FigureError(f"figure {figure_id!r}: {path.name} needs a one-line docstring")
    return doc.strip().splitlines()[0]


# ------------------------------------------------------------------------------------------------------ keys


def _without_labels(source: str) -> str:
    """The figure's source without its top-level ``LABELS = {...}``: label texts key the SVG, not the data."""
    try:
        tree = keys.parse(source)
    except SyntaxError:
        return source
    lines = source.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "LABELS" for t in targets):
            for k in range(node.lineno - 1, node.end_lineno or node.lineno):
                lines[k] = "\n"
    return "".join(lines)


def _committed_data(texts: Iterable[str]) -> list[Path]:
    """Files under ``figures/data/`` whose file name appears in one of the texts (e.g. ``bn_cost.json``)."""
    folder = paths.figures_dir() / "data"
    candidates = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
    joined = "\n".join(texts)
    return [p for p in candidates if p.name in joined]


def data_inputs(figure_id: str) -> list[Path]:
    """The files a figure's data depends on besides its own source: imports (transitively) and committed data."""
    source = source_path(figure_id).read_text(encoding="utf-8")
    modules = keys.dependencies(source, helpers_dir=paths.figures_dir(), exclude=PRESENTATION)
    texts = [source] + [p.read_text(encoding="utf-8") for p in modules]
    return modules + _committed_data(texts)


def data_key(figure_id: str) -> str:
    """Content key of a figure's data."""
    source = source_path(figure_id).read_text(encoding="utf-8")
    return keys.content_key(
        "data-v3",
        figure_id,
        _without_labels(source),
        *keys.sources_part(data_inputs(figure_id)),
        keys.versions(DATA_VERSIONS),
    )


def figure_labels(figure_id: str) -> dict:
    """The figure's own ``LABELS`` dict, read from its source as a literal (no import)."""
    tree = keys.parse(source_path(figure_id).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "LABELS" for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                raise FigureError(f"figure {figure_id!r}: LABELS must be a plain dict literal") from None
    return {}


def current_labels(figure_id: str, used: Iterable[str]) -> dict[str, str] | None:
    """Today's texts of the labels a figure drew last time (``key@lang`` → text), or None if one no longer exists."""
    from gradnotes.site.labels import GLOSSARY

    own = figure_labels(figure_id)
    texts = {}
    for entry in used:
        key, _, lang = entry.rpartition("@")
        table = own if key in own else GLOSSARY
        try:
            texts[entry] = table[key][lang]
        except (KeyError, TypeError):
            return None
    return texts


def svg_key(figure_id: str, lang: str, key_of_data: str, labels: dict[str, str]) -> str:
    """Content key of one rendered language: data key, style, the label texts drawn, language, matplotlib."""
    return keys.content_key(
        "svg-v2",
        key_of_data,
        lang,
        STYLE_FILE.read_bytes(),
        json.dumps(labels, sort_keys=True, ensure_ascii=False),
        keys.versions(("matplotlib",)),
    )


# ------------------------------------------------------------------------------------------ compute / render


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
        intact = envelope["sha256"] == keys.content_key(json.dumps(payload, sort_keys=True))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        intact, envelope = False, {}
    if not intact:
        print(f"gradnotes: cache entry for {figure_id!r} is corrupt; recomputing", file=sys.stderr)
        return None
    return payload if envelope.get("key") == key else None


def _describe(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" ({Path(frame.filename).name}:{frame.lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


def compute_data(figure_id: str, *, force: bool = False, key: str | None = None) -> dict:
    """The figure's data, from the cache when its key is unchanged, else computed (one torch thread) and stored."""
    data, _ = _data(figure_id, force=force, key=key)
    return data


def _data(figure_id: str, *, force: bool = False, key: str | None = None) -> tuple[dict, bool]:
    """(data, whether it was computed now)."""
    module = load(figure_id)
    key = key or data_key(figure_id)
    data = None if force else _load_cached_data(figure_id, key)
    if data is not None:
        return data, False
    from gradnotes.engine.nets import threads

    try:
        # One thread: the same bits in a build worker or not, and two workers never oversubscribe two cores.
        with threads(1):
            data = module.compute()
        text = json.dumps(data, sort_keys=True)  # NaN/inf allowed: an exploding run is data, not an error
    except UserError:
        raise
    except Exception as exc:
        raise FigureError(f"figure {figure_id!r}: compute() failed: {_describe(exc)}") from exc
    data = json.loads(text)  # what the cache will return next time, so draw/check see identical values
    envelope = {"key": key, "sha256": keys.content_key(text), "payload": data}
    keys.write_if_changed(_data_path(figure_id), json.dumps(envelope, sort_keys=True))
    return data, True


def _measured(exc: AssertionError, figure_file: Path) -> str:
    """The values a failed ``assert`` compared, e.g. ``measured: sig['none'] = -12.1 (asserted < -15)``.

    Read from the assert statement's AST in the figure's innermost frame and evaluated in that frame, so every
    check reports what it found without spelling the value into its message.
    """
    frames = [(f, n) for f, n in traceback.walk_tb(exc.__traceback__) if Path(f.f_code.co_filename) == figure_file]
    if not frames:
        return ""
    frame, lineno = frames[-1]
    try:
        tree = keys.parse(figure_file.read_text(encoding="utf-8"))
        node = next(n for n in ast.walk(tree) if isinstance(n, ast.Assert) and n.lineno <= lineno <= n.end_lineno)
    except (StopIteration, SyntaxError, OSError):
        return ""
    test = node.test
    if not isinstance(test, ast.Compare):
        return ""
    symbols = {ast.Lt: "<", ast.LtE: "≤", ast.Gt: ">", ast.GtE: "≥", ast.Eq: "==", ast.NotEq: "!="}

    def literal(n: ast.expr) -> bool:
        return isinstance(n, ast.Constant) or (isinstance(n, ast.UnaryOp) and isinstance(n.operand, ast.Constant))

    parts = []
    for operand in [test.left, *test.comparators]:
        if literal(operand):
            continue
        try:
            value = eval(compile(ast.Expression(operand), str(figure_file), "eval"), frame.f_globals, frame.f_locals)
        except Exception:
            continue
        shown = f"{value:.4g}" if isinstance(value, float) else repr(value)
        if len(shown) > 80:
            continue
        parts.append(f"{ast.unparse(operand)} = {shown}")
    bounds = [
        f"{symbols.get(type(op), '?')} {ast.unparse(c)}"
        for op, c in zip(test.ops, test.comparators, strict=True)
        if literal(c)
    ]
    if not parts:
        return ""
    asserted = f" (asserted {', '.join(bounds)})" if bounds else ""
    return f"; measured: {'; '.join(parts)}{asserted}"


def check_claim(figure_id: str, data: dict) -> None:
    """Run the figure's ``check``; a failed claim raises FigureError naming the figure, the claim and the values."""
    try:
        load(figure_id).check(data)
    except AssertionError as exc:
        claim = str(exc) or "assertion without message"
        detail = _measured(exc, source_path(figure_id).resolve())
        raise FigureError(f"figure {figure_id!r}: claim failed: {claim}{detail}") from exc


def render_recorded(figure_id: str, lang: str, data: dict) -> tuple[bytes, dict[str, str]]:
    """SVG bytes of one figure in one language, and the label texts it drew (``{key@lang: text}``)."""
    from gradnotes.site import labels, style

    if lang not in LANGS:
        raise UserError(f"unknown language {lang!r}; valid: {', '.join(LANGS)}")
    module = load(figure_id)
    try:
        with labels.recording() as used:
            fig = module.draw(data, lang)
        return style.save_svg(fig), dict(used)
    except UserError:
        raise
    except Exception as exc:
        raise FigureError(f"figure {figure_id!r} ({lang}): draw() failed: {_describe(exc)}") from exc


def render(figure_id: str, lang: str, data: dict | None = None) -> bytes:
    """SVG bytes of one figure in one language (computing or loading its data as needed)."""
    if data is None:
        data = compute_data(figure_id)
    return render_recorded(figure_id, lang, data)[0]


# ------------------------------------------------------------------------------------------------------ build


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


def _write_manifest(out: Path, manifest: dict) -> None:
    keys.write_if_changed(out / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """One figure build at a time (``mkdocs serve`` and ``python figures/x.py`` may run together)."""
    with keys.file_lock(paths.cache_dir() / "build.lock"):
        yield


def jobs_default() -> int:
    """Worker processes for a build: GRADNOTES_JOBS, else one per core (at most 4)."""
    env = os.environ.get("GRADNOTES_JOBS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise UserError(f"GRADNOTES_JOBS must be a positive integer, not {env!r}")
        return int(env)
    return max(1, min(4, os.cpu_count() or 1))


def _pending(figure_id: str, key: str, langs: list[str], out: Path, manifest: dict, force: bool) -> list[str]:
    """The languages of a figure whose published SVG is missing, corrupt or keyed on other inputs."""
    entry = manifest["figures"].get(figure_id, {})
    todo = []
    for lang in langs:
        target = out / f"{figure_id}.{lang}.svg"
        known = entry.get(lang, {})
        try:
            intact = known.get("sha256") == keys.sha256(target.read_bytes())
        except OSError:
            intact = False
        # the labels it drew last time, with the texts they have now: an edited label re-renders this figure only
        recorded = known.get("labels")
        labels = current_labels(figure_id, recorded) if isinstance(recorded, dict) else None
        current = labels is not None and known.get("key") == svg_key(figure_id, lang, key, labels)
        if force or not intact or not current:
            todo.append(lang)
    return todo


def _build_one(figure_id: str, key: str, langs: list[str], force: bool) -> tuple[dict, list[Path], int, int]:
    """Compute (or load), check and render one figure; returns (manifest entries, changed, computed, rendered)."""
    out = paths.published_figures_dir()
    data, computed = _data(figure_id, force=force, key=key)
    check_claim(figure_id, data)
    entries: dict = {}
    changed: list[Path] = []
    for lang in langs:
        target = out / f"{figure_id}.{lang}.svg"
        svg, labels = render_recorded(figure_id, lang, data)
        if keys.write_if_changed(target, svg):
            changed.append(target)
        entries[lang] = {
            "file": target.name,
            "key": svg_key(figure_id, lang, key, labels),
            "labels": labels,
            "sha256": keys.sha256(svg),
        }
    return entries, changed, int(computed), len(langs)


def _build_group(
    figures: list[tuple[str, str, list[str]]], force: bool
) -> list[tuple[str, tuple[dict, list[Path], int, int] | BaseException]]:
    """Build several figures one after another in one process; a failure is returned, not raised, per figure."""
    outcomes: list[tuple[str, tuple[dict, list[Path], int, int] | BaseException]] = []
    for figure_id, key, langs in figures:
        try:
            outcomes.append((figure_id, _build_one(figure_id, key, langs, force)))
        except (FigureError, UserError) as exc:
            outcomes.append((figure_id, exc))
    return outcomes


def _simulates(figure_id: str) -> bool:
    """Whether a figure runs the engine's simulator (through its cache, which serialises simulation)."""
    return ENGINE_CACHE in data_inputs(figure_id)


def _worker_init() -> None:
    # A worker dies with the build that started it (kill -9 or the OOM killer on the parent): Linux's
    # parent-death signal. Without it the workers would hold their memory until someone finds them.
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the signal was armed
            os._exit(1)


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
    wanted = _check_ids(ids) if ids is not None else discover()
    langs = list(langs)
    for lang in langs:
        if lang not in LANGS:
            raise UserError(f"unknown language {lang!r}; valid: {', '.join(LANGS)}")
    out = paths.published_figures_dir()
    out.mkdir(parents=True, exist_ok=True)
    with build_lock():
        return _build_locked(wanted, langs, out, force, progress, jobs)


def _build_locked(
    wanted: list[str], langs: list[str], out: Path, force: bool, progress: bool | None, jobs: int | None
) -> BuildReport:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from tqdm import tqdm

    manifest = _read_manifest(out)
    data_keys = {figure_id: data_key(figure_id) for figure_id in wanted}
    todo = {
        figure_id: pending
        for figure_id in wanted
        if (pending := _pending(figure_id, data_keys[figure_id], langs, out, manifest, force))
    }
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
        _write_manifest(out, manifest)

    jobs_of = [(figure_id, data_keys[figure_id], pending) for figure_id, pending in todo.items()]
    # The engine simulates one figure at a time (its cache's lock), so the figures that simulate go to one worker as
    # one sequential group, submitted first, and the others fill the remaining workers instead of waiting on the lock.
    engine = [job for job in jobs_of if _simulates(job[0])]
    groups = ([engine] if engine else []) + [[job] for job in jobs_of if job not in engine]
    workers = min(jobs or jobs_default(), len(groups))
    if workers <= 1:
        for group in groups:
            for figure_id, outcome in _build_group(group, force):
                collect(figure_id, outcome)
    else:
        # spawn, not fork: forking a process that has imported torch is unsafe.
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init) as pool:
            futures = {pool.submit(_build_group, group, force): group for group in groups}
            for future in as_completed(futures):
                exc = future.exception()
                if exc is not None:  # the worker itself died: every figure of its group failed
                    for figure_id, _, _ in futures[future]:
                        collect(figure_id, exc)
                    continue
                for figure_id, outcome in future.result():
                    collect(figure_id, outcome)
    bar.close()
    # Figures whose source is gone must not linger on the site.
    for stale in sorted(set(manifest["figures"]) - set(discover())):
        for lang in LANGS:
            (out / f"{stale}.{lang}.svg").unlink(missing_ok=True)
        del manifest["figures"][stale]
    _write_manifest(out, manifest)
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
