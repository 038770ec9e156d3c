"""``mkdocs serve`` of the fixture site: one rebuild per edit (a page, a figure, a package module), then quiet.

On a copy of the fixture project (tests/site/support_site.py: copy_fixture_project), so every rebuild is seconds: the
package edit touches a module neither the toy figure's data nor the toy notebook depends on, so the hook re-runs the
figure build (its stamp changes) and nothing is recomputed or re-executed.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import threading
import time

import pytest
from support import PYTHON
from support_site import FIXTURE_FIGURE, FIXTURE_NOTEBOOK, copy_fixture_project, fixture_env

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeLog:
    """Collects the server's log lines in a thread so the test can wait for and count events."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(process,), daemon=True)
        self._thread.start()

    def _pump(self, process: subprocess.Popen) -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            self.lines.append(line.rstrip())

    def count(self, needle: str) -> int:
        return sum(needle in line for line in self.lines)

    def wait_for(self, needle: str, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(needle) >= count:
                return True
            time.sleep(0.2)
        return False


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _key(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _append(path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_serve_rebuilds_once_per_edit_and_never_loops(tmp_path):
    site = copy_fixture_project(tmp_path / "project")
    project = tmp_path / "project"
    cache = tmp_path / "cache"
    port = free_port()
    env = {**os.environ, **fixture_env(cache, site)}
    process = subprocess.Popen(
        [PYTHON, "-m", "mkdocs", "serve", "--dev-addr", f"127.0.0.1:{port}"],
        cwd=site,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = ServeLog(process)
    svg = cache / "figures" / f"{FIXTURE_FIGURE}.ko.svg"
    notebook_stamp = cache / "notebooks" / "ko" / f"{FIXTURE_NOTEBOOK}.key.json"
    figure_data = cache / "data" / f"{FIXTURE_FIGURE}.json"
    stamp = cache / "inputs.sha256"

    def rebuilt_once_more(count: int, what: str) -> None:
        assert log.wait_for("Detected file changes", count, timeout=60), f"no rebuild for {what}"
        assert log.wait_for("Reloading browsers", count, timeout=120), "\n".join(log.lines[-30:])
        time.sleep(5)  # a loop would show up as a further rebuild within a second or two
        assert log.count("Detected file changes") == count, "\n".join(log.lines[-30:])

    try:
        assert log.wait_for("Serving on", 1, timeout=300), "\n".join(log.lines[-30:])
        time.sleep(3)
        assert log.count("Detected file changes") == 0, "rebuilt with no edit"

        _append(site / "docs" / "figure.md", "\n추가 문장입니다.\n")
        rebuilt_once_more(1, "a page edit")

        # A figure edit: the hook re-runs the figure build, which recomputes and republishes that figure.
        before = (stamp.read_text(), _sha(svg))
        figure = site / "figures" / f"{FIXTURE_FIGURE}.py"
        figure.write_text(figure.read_text(encoding="utf-8").replace("DECAY = 10.0", "DECAY = 8.0"), encoding="utf-8")
        rebuilt_once_more(2, "a figure edit")
        assert stamp.read_text() != before[0], "the figure build did not run for the figure edit"
        assert _sha(svg) != before[1], "the edited figure was not republished"

        # A package edit: the figure build runs again (stamp), but the keys of the figure's data and of the notebook,
        # which do not import the edited module, stay: nothing is recomputed or re-executed.
        edited = "gradnotes/engine/theory.py"
        assert edited not in _key(notebook_stamp)["dependencies"], "pick a module the toy notebook does not import"
        before = (stamp.read_text(), _key(figure_data)["key"], _key(notebook_stamp)["key"])
        _append(project / edited, "\n# edited by test_serve\n")
        rebuilt_once_more(3, "a gradnotes source edit")
        assert stamp.read_text() != before[0], "the figure build did not run for the package edit"
        assert _key(figure_data)["key"] == before[1], "figure data re-keyed by a module it does not import"
        assert _key(notebook_stamp)["key"] == before[2], "notebook re-keyed by a module it does not import"

        assert not [line for line in log.lines if "ERROR" in line], "\n".join(log.lines[-30:])
        watched = [project / "gradnotes", site / "figures", site / "docs"]
        assert not [p for w in watched for p in w.rglob("__pycache__")], "bytecode written into a watched folder"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
