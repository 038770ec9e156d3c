"""Per-layer statistics during the reader's own training loop, and the JSON-lines log they go to.

``with watch(model, every=k, log="run.jsonl") as w:`` counts one *step* per forward call of ``model`` in training mode
with gradients enabled. Every k-th step it hooks the weight layers and the activations for that step only: output
mean/std, saturated and dead units, NaN/inf; ∂L/∂W through tensor hooks on the weights; and, at the start of the next
step (or on exit), the update:data ratio ‖W_after − W_before‖ / ‖W_before‖ that the optimiser's step produced. Between
recorded steps only one pre-hook on the root module runs. All hooks are removed on exit, also on an exception.

Log format: a header line ``{"schema": "gradnotes.diagnose.watch", "schema_version": 2, "every": k, "layers": [...]}``
then one line per recorded step ``{"step": s, "loss": ..., "layers": {name: {...}}}``, each written and flushed whole.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradnotes.diagnose.measure import _Accumulator, _activation_kind, _first_tensor, _role, _saturated
from gradnotes.diagnose.report import SCHEMA_VERSION
from gradnotes.diagnose.rules import Thresholds
from gradnotes.errors import UserError
from gradnotes.strictjson import dumps

if TYPE_CHECKING:
    import torch

LOG_SCHEMA = "gradnotes.diagnose.watch"


class watch:  # noqa: N801 - used as a context manager, like torch.no_grad
    """Record per-layer statistics every ``every`` steps of an ordinary training loop; see the module docstring."""

    def __init__(
        self,
        model: torch.nn.Module,
        every: int = 1,
        log: str | Path | None = None,
        *,
        optimizer: Any = None,
        thresholds: Thresholds | None = None,
    ) -> None:
        import torch

        if not isinstance(model, torch.nn.Module):
            raise UserError(f"watch() needs a torch.nn.Module, got {type(model).__name__}")
        if not (isinstance(every, int) and every >= 1):
            raise UserError(f"every must be a positive integer, got {every!r}")
        self.model, self.every, self.thresholds = model, every, thresholds or Thresholds()
        self.log_path = Path(log) if log is not None else None
        self.optimizer = optimizer
        modules = dict(model.named_modules())
        self.layers: list[dict[str, str]] = []
        self._modules: dict[str, torch.nn.Module] = {}
        self._weights: dict[str, list[torch.nn.Parameter]] = {}
        seen: set[int] = set()
        for name, module in modules.items():
            own = [p for p in module.parameters(recurse=False) if id(p) not in seen]
            seen.update(id(p) for p in own)
            role = _role(module, own)
            if role in ("weight", "activation"):
                self.layers.append({"name": name, "kind": type(module).__name__, "role": role})
                self._modules[name] = module
                if role == "weight":
                    self._weights[name] = [p for p in own if p.dim() >= 2 and p.requires_grad]
        if not any(self._weights.values()):
            raise UserError("the model has no weight layer to watch (no parameter with ≥ 2 dimensions)")
        self.step = -1
        self.steps: list[dict[str, Any]] = []  # kept in memory too (training mode reads them)
        self._pending: dict[str, Any] | None = None
        self._root_handle: Any = None
        self._handles: list[Any] = []
        self._file: Any = None

    # --- the context manager ---

    def header(self) -> dict[str, Any]:
        opt = self.optimizer
        lr = None
        if opt is not None and getattr(opt, "param_groups", None):
            lr = opt.param_groups[0].get("lr")
        return {
            "schema": LOG_SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "every": self.every,
            "optimizer": type(opt).__name__ if opt is not None else None,
            "lr": float(lr) if isinstance(lr, (int, float)) else None,
            "thresholds": {k: getattr(self.thresholds, k) for k in self.thresholds.__dataclass_fields__},
            "layers": self.layers,
        }

    def __enter__(self) -> watch:
        if self.log_path is not None:
            if not self.log_path.parent.is_dir():
                raise UserError(f"cannot write {self.log_path}: no folder {self.log_path.parent}")
            self._file = self.log_path.open("w", encoding="utf-8")
            self._write(self.header())
        self._root_handle = self.model.register_forward_pre_hook(self._on_forward)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._pending is not None:
                self._finish()
        finally:
            self._remove_step_hooks()
            if self._root_handle is not None:
                self._root_handle.remove()
                self._root_handle = None
            if self._file is not None:
                self._file.close()
                self._file = None

    def loss(self, value: Any) -> None:
        """Note the loss of the current step (optional: gives the log its loss curve)."""
        if self._pending is not None:
            self._pending["loss"] = float(value.detach()) if hasattr(value, "detach") else float(value)

    # --- the hooks ---

    def _write(self, record: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()

    def _on_forward(self, module: torch.nn.Module, args: Any) -> None:
        import torch

        if not (module.training and torch.is_grad_enabled()):
            return  # an evaluation pass inside the loop is not a training step
        if self._pending is not None:
            self._finish()
        self.step += 1
        if self.step % self.every == 0:
            self._start()

    def _start(self) -> None:
        import torch

        slope = self.thresholds.saturation_slope
        acc = {name: _Accumulator() for name in self._modules}
        grad_sq = {name: 0.0 for name in self._weights}
        grad_bad = {name: 0 for name in self._weights}
        with torch.no_grad():
            before = {name: [p.detach().clone() for p in ps] for name, ps in self._weights.items()}
        self._pending = {"acc": acc, "grad_sq": grad_sq, "grad_bad": grad_bad, "before": before, "loss": None}

        def post_hook(name: str, kind: str | None) -> Callable[..., None]:
            def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
                a = acc[name]
                a.calls += 1
                y = _first_tensor(output)
                if y is None:
                    return
                a.add_activation(y)
                if kind == "saturating":
                    a.add_saturation(_saturated(module, y, slope))
                elif kind == "dead":
                    a.add_alive(y)

            return hook

        def grad_hook(name: str) -> Callable[[torch.Tensor], None]:
            def hook(g: torch.Tensor) -> None:
                g = g.detach()
                norm = float(torch.linalg.vector_norm(g, dtype=torch.float64))
                if not math.isfinite(norm):
                    grad_bad[name] += int((~torch.isfinite(g)).sum())
                grad_sq[name] += norm * norm

            return hook

        for name, module in self._modules.items():
            self._handles.append(module.register_forward_hook(post_hook(name, _activation_kind(module))))
        for name, ps in self._weights.items():
            self._handles.extend(p.register_hook(grad_hook(name)) for p in ps)

    def _remove_step_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _finish(self) -> None:
        import torch

        pending, self._pending = self._pending, None
        self._remove_step_hooks()
        assert pending is not None
        layers: dict[str, dict[str, Any]] = {}
        for info in self.layers:
            name = info["name"]
            a: _Accumulator = pending["acc"][name]
            stats: dict[str, Any] = {}
            if a.count:
                stats["act_mean"] = a.mean
                stats["act_std"] = math.sqrt(a.m2 / a.count) if math.isfinite(a.m2) else math.nan
                stats["nonfinite_activations"] = a.nonfinite
                if a.saturation_count and not a.nonfinite:
                    stats["saturated_fraction"] = a.saturated / a.saturation_count
                if a.alive is not None and a.dead_defined and not a.nonfinite:
                    stats["dead_fraction"] = 1.0 - float(a.alive.float().mean())
            if name in self._weights and self._weights[name]:
                with torch.no_grad():
                    now = [p.detach() for p in self._weights[name]]
                    old = pending["before"][name]
                    f64 = torch.float64
                    w_norm = math.hypot(*(float(torch.linalg.vector_norm(o, dtype=f64)) for o in old))
                    delta = math.hypot(
                        *(float(torch.linalg.vector_norm(n - o, dtype=f64)) for n, o in zip(now, old, strict=True))
                    )
                    bad_weights = 0 if math.isfinite(delta) else sum(int((~torch.isfinite(n)).sum()) for n in now)
                grad_norm = math.sqrt(pending["grad_sq"][name])
                stats.update(
                    weight_norm=w_norm,
                    grad_norm=grad_norm,
                    grad_data_ratio=grad_norm / w_norm if w_norm > 0 else None,
                    update_ratio=delta / w_norm if w_norm > 0 else None,
                    nonfinite_gradients=pending["grad_bad"][name],
                    nonfinite_weights=bad_weights,
                )
            if stats:
                layers[name] = stats
        record = {"step": self.step, "loss": pending["loss"], "layers": layers}
        self.steps.append(record)
        self._write(record)

    def history(self) -> dict[str, Any]:
        """The header and the recorded steps, as the log holds them."""
        return {**self.header(), "steps": self.steps}


def read_log(path: str | Path) -> dict[str, Any]:
    """A watch log as ``{header..., "steps": [...]}``; a missing, empty, truncated or newer file is a ``UserError``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such report file: {path}")
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise UserError(f"{path} is empty: was the training loop inside `with watch(...)` ever run?")
    lines = text.split("\n")
    if lines[-1] != "":
        raise UserError(f"{path} is truncated mid-line (line {len(lines)}): the writer stopped while writing it")
    records = []
    for number, line in enumerate(lines[:-1], 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise UserError(f"{path}:{number} is not a JSON line: truncated or not a gradnotes watch log") from None
    header = records[0]
    if not isinstance(header, dict) or header.get("schema") != LOG_SCHEMA:
        raise UserError(f"{path} is not a gradnotes watch log (its first line has no schema {LOG_SCHEMA!r})")
    version = header.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise UserError(
            f"{path} has schema version {version}, newer than this gradnotes reads ({SCHEMA_VERSION}): "
            "upgrade gradnotes"
        )
    steps = records[1:]
    if not steps:
        raise UserError(f"{path} holds no recorded step: did the model run a training step inside `with watch(...)`?")
    if not all(isinstance(r, dict) and isinstance(r.get("step"), int) for r in steps):
        raise UserError(f"{path} holds a line that is not a step record")
    return {**header, "steps": steps}
