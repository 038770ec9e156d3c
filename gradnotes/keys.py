"""Content keys and the one writer, shared by the engine cache, the figure gallery and the notebooks.

* ``content_key(*parts)``: sha256 of length-prefixed parts (so ``("ab", "c")`` and ``("a", "bc")`` differ).
* ``versions(names)``: the installed versions of some distributions, as one string for a key.
* ``dependencies(path)``: the source files a Python file (or notebook code) can run, read from the AST: the
  ``gradnotes`` modules it imports, transitively, and the ``figures/_*.py`` helpers beside it. No lists kept by hand:
  a figure's data key is its source plus this closure, so editing a module invalidates exactly its importers.
* ``write_if_changed(path, data)``: atomic (temp file + ``os.replace``), and only when the bytes differ, so that
  ``mkdocs serve`` never sees half a file and never loops on a rewrite of equal bytes.

Imports nothing of torch, matplotlib or mkdocs: the MkDocs hooks' subprocesses and ``gradnotes list`` stay fast.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import functools
import hashlib
import importlib.metadata
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
PACKAGE = "gradnotes"


def content_key(*parts: bytes | str) -> str:
    """sha256 hex digest of the parts, each length-prefixed."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def sha256(data: bytes) -> str:
    """Plain sha256 hex digest of some bytes (the checksum of a published file)."""
    return hashlib.sha256(data).hexdigest()


@functools.cache
def versions(names: Sequence[str]) -> str:
    """``name==version;...`` of installed distributions (``absent`` for a missing one)."""
    found = []
    for name in names:
        try:
            found.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name}==absent")
    return ";".join(found)


def write_if_changed(path: Path, data: bytes | str) -> bool:
    """Write ``data`` to ``path`` atomically, only if the bytes differ; True if written. Never leaves a partial file."""
    data = data.encode() if isinstance(data, str) else data
    try:
        if path.is_file() and path.read_bytes() == data:
            return False
    except OSError:
        pass  # unreadable: rewrite it
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; published files are ordinary readable files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive cross-process lock held for the block (``flock`` on ``path``, created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------------- import closure

# CPython 3.11's ast.parse is not thread-safe: two threads parsing at once can fail with "SystemError: AST
# constructor recursion depth mismatch" (python/cpython#106905, pytest-dev/pytest#10763): the notebook build computes
# keys from two threads, and a cold CI build hit it.
_PARSE_LOCK = threading.Lock()


def parse(source: str) -> ast.Module:
    """``ast.parse``, one thread at a time (see _PARSE_LOCK); every parse in the package goes through here."""
    with _PARSE_LOCK:
        return ast.parse(source)


def _module_file(dotted: str) -> Path | None:
    """The source file of a ``gradnotes`` module or package, if it exists."""
    parts = dotted.split(".")
    if parts[0] != PACKAGE:
        return None
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


@functools.cache
def _public_api() -> dict[str, str]:
    """``gradnotes/__init__.py``'s lazy ``_API`` table (name → module), read from its AST, not imported."""
    tree = parse((PACKAGE_DIR / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "_API" for t in targets) and node.value is not None:
                return ast.literal_eval(node.value)
    return {}


def imported_modules(code: str, helpers_dir: Path | None = None) -> set[Path]:
    """Source files that ``code`` imports directly: ``gradnotes`` modules and ``helpers_dir/_*.py`` helpers.

    Every import statement counts, also those inside functions (lazy imports are real dependencies). Lines that are
    IPython magics (``%``, ``!``) are skipped. Code that does not parse depends on the whole package.
    """
    lines = [line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = parse("\n".join(lines))
    except SyntaxError:
        return set(PACKAGE_DIR.rglob("*.py"))
    found: set[Path] = set()

    def add_module(dotted: str) -> None:
        path = _module_file(dotted)
        if path is not None:
            found.add(path)
        elif helpers_dir is not None and "." not in dotted and dotted.startswith("_"):
            helper = helpers_dir / f"{dotted}.py"
            if helper.is_file():
                found.add(helper)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                # "import gradnotes.engine.sim" runs gradnotes.engine too, but the root package is lazy: skip it
                for depth in range(2, len(parts) + 1):
                    add_module(".".join(parts[:depth]))
                if len(parts) == 1:
                    add_module(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == PACKAGE:
                for alias in node.names:  # from gradnotes import Spec (lazy API) or a subpackage/module
                    target = _public_api().get(alias.name, f"{PACKAGE}.{alias.name}")
                    add_module(target)
            else:
                add_module(node.module)
                for alias in node.names:  # "from gradnotes.engine import sim": a submodule, if it is one
                    add_module(f"{node.module}.{alias.name}")
    return found


def _package_inits(path: Path) -> set[Path]:
    """The ``__init__.py`` files of the subpackages that contain ``path`` (they run on import; the root's is lazy)."""
    inits = set()
    try:
        rel = path.relative_to(PACKAGE_DIR)
    except ValueError:
        return inits
    folder = PACKAGE_DIR
    for part in rel.parts[:-1]:
        folder = folder / part
        if (folder / "__init__.py").is_file():
            inits.add(folder / "__init__.py")
    return inits


def dependencies(
    code: str, *, helpers_dir: Path | None = None, exclude: Iterable[str] = (), extra: Iterable[Path] = ()
) -> list[Path]:
    """The transitive closure of what ``code`` imports (see ``imported_modules``), sorted.

    ``exclude`` names subpackages (``"gradnotes.site"``) left out and not followed: for a figure's *data*, the
    presentation code is not an input. ``extra`` are files to start from as well (e.g. a module that is always run).
    """
    excluded = [ROOT.joinpath(*name.split(".")) for name in exclude]

    def wanted(path: Path) -> bool:
        return not any(path.is_relative_to(folder) for folder in excluded)

    pending = {p for p in imported_modules(code, helpers_dir) | set(extra) if wanted(p)}
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        seen.add(path)
        new = imported_modules(path.read_text(encoding="utf-8"), helpers_dir) | _package_inits(path)
        pending |= {p for p in new if wanted(p)} - seen
    return sorted(seen)


def sources_part(files: Iterable[Path]) -> list[bytes]:
    """Key parts for some source files: each file's path (relative to the repository) and bytes."""
    parts = []
    for path in sorted(files):
        try:
            name = path.resolve().relative_to(ROOT).as_posix()
        except ValueError:
            name = path.name
        parts.append(name.encode() + b"\0" + path.read_bytes())
    return parts
