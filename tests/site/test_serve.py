"""``mkdocs serve``: one rebuild per edit (pages and gradnotes sources alike), then quiet — never a loop."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time

import pytest
from conftest import PYTHON, ROOT, copy_tree_for_serve

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


def test_serve_rebuilds_once_per_edit_and_never_loops(tmp_path):
    project = copy_tree_for_serve(tmp_path / "project")
    cache = tmp_path / "cache"
    if (ROOT / ".cache" / "gradnotes").is_dir():  # start warm: this test is about rebuilds, not figure time
        shutil.copytree(ROOT / ".cache" / "gradnotes", cache)
    port = free_port()
    env = {**os.environ, "GRADNOTES_CACHE": str(cache), "NO_MKDOCS_2_WARNING": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    process = subprocess.Popen(
        [PYTHON, "-m", "mkdocs", "serve", "--dev-addr", f"127.0.0.1:{port}"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = ServeLog(process)
    try:
        assert log.wait_for("Serving on", 1, timeout=300), "\n".join(log.lines[-30:])
        time.sleep(3)
        assert log.count("Detected file changes") == 0, "rebuilt with no edit"

        page = project / "docs" / "activations.md"
        page.write_text(page.read_text(encoding="utf-8") + "\n추가 문장입니다.\n", encoding="utf-8")
        assert log.wait_for("Detected file changes", 1, timeout=60)
        assert log.wait_for("Reloading browsers", 1, timeout=120), "\n".join(log.lines[-30:])
        time.sleep(6)
        assert log.count("Detected file changes") == 1, "\n".join(log.lines[-30:])

        # A gradnotes source edit: the hook re-runs the figure build in a subprocess, writing only outside docs/.
        stamp_before = (cache / "inputs.sha256").read_text()
        module = project / "gradnotes" / "errors.py"
        module.write_text(module.read_text(encoding="utf-8") + "\n# edited by test_serve\n", encoding="utf-8")
        assert log.wait_for("Detected file changes", 2, timeout=60)
        assert log.wait_for("Reloading browsers", 2, timeout=300), "\n".join(log.lines[-30:])
        time.sleep(8)
        assert log.count("Detected file changes") == 2, "\n".join(log.lines[-30:])
        assert (cache / "inputs.sha256").read_text() != stamp_before, "the figure build did not run for the edit"
        assert not [line for line in log.lines if "ERROR" in line], "\n".join(log.lines[-30:])
        assert not list((project / "gradnotes").rglob("__pycache__")), "bytecode written into a watched folder"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
