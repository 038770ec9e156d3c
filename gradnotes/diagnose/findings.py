"""From numbers to a diagnosis: findings that group the flags by phenomenon, name a probable cause read from the model,
propose a fix, and attribute consequences (NaN, exploding gradients, ...) to the root cause that produces them.

Sources the causes rely on: He et al. 2015 §2.2 (Var[W] = 2/n_in keeps a ReLU stack's forward signal level),
Glorot & Bengio 2010 §3.1 (a sigmoid's non-zero mean saturates the top layer) and §4.2 (Var[W] = 2/(n_in + n_out)),
LeCun et al. 1998 §4.6 (Var[W] = 1/n_in for a linear or zero-centred unit), Pascanu et al. 2013 §3.1 (a recurrent weight
with spectral radius > 1 is necessary for gradients to explode through time), Karpathy's makemore part 3 (the initial
loss of a C-way classifier should be ln C; the update:data ratio ≈ 1e-3).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gradnotes.diagnose.text import display_name, fmt, pct

if TYPE_CHECKING:
    from gradnotes.diagnose.report import LayerStats, Report
    from gradnotes.diagnose.rules import Flag, Thresholds

HE_FAMILY = ("ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "CELU", "GELU", "SiLU", "Mish", "Hardswish")
XAVIER_FAMILY = ("Tanh", "Sigmoid", "Softsign", "Hardtanh", "Hardsigmoid")
INIT_SOURCE = {"He": "He et al. 2015 §2.2", "Xavier": "Glorot & Bengio 2010 §4.2", "LeCun": "LeCun et al. 1998 §4.6"}
INIT_TOLERANCE = 2.0  # a weight std more than 2× off its reference counts as a cause (2^L after L layers)


@dataclass
class Finding:
    """One phenomenon: what was measured (evidence), why it probably happens (cause), what to change (fix)."""

    kind: str
    severity: str  # "error": training fails or stalls; "warning": part of the model learns badly
    layers: list[str]  # module names, as in model.named_modules()
    evidence: str
    cause: str
    fix: str
    title: str = ""  # a few words for the verdict
    span: str = ""  # "layers #21–#79": positions in the report's forward order (the table's # column)
    role: str = "root_cause"  # "root_cause" | "consequence"
    caused_by: str | None = None  # the kind of the root cause of a consequence
    measured: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- helpers -------------------------------------------------------------------------------------------------------


def span(indices: list[int]) -> str:
    """``#4`` or ``#4–#17`` (positions in forward order, 1-based)."""
    if not indices:
        return ""
    lo, hi = min(indices), max(indices)
    return f"layer #{lo}" if lo == hi else f"layers #{lo}–#{hi}"


def percent_range(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return pct(lo) if f"{lo:.3f}" == f"{hi:.3f}" else f"{100 * lo:.0f}–{100 * hi:.0f} %"


def reference_init(row: LayerStats, activation: str | None) -> tuple[str, float, str]:
    """(name, std, torch line) of the init that keeps the signal level for this layer and the activation after it."""
    fan_in, fan_out = row.fan_in or 1, row.fan_out or 1
    if activation in HE_FAMILY:
        return "He", math.sqrt(2 / fan_in), 'nn.init.kaiming_normal_(m.weight, nonlinearity="relu")'
    if activation in XAVIER_FAMILY:
        return "Xavier", math.sqrt(2 / (fan_in + fan_out)), "nn.init.xavier_normal_(m.weight)"
    return "LeCun", math.sqrt(1 / fan_in), 'nn.init.kaiming_normal_(m.weight, nonlinearity="linear")'


class _Model:
    """The report's rows with what the findings need: positions, the activation after each weight layer."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.rows = report.layers
        self.index = {r.name: i for i, r in enumerate(self.rows, 1)}
        self.weights = [r for r in self.rows if r.role == "weight" and r.calls > 0]
        self.has_norm = any(r.role == "norm" for r in self.rows)
        self.after: dict[str, tuple[str | None, bool]] = {}
        for i, r in enumerate(self.rows):
            if r.role != "weight":
                continue
            activation, normalised = None, False
            for nxt in self.rows[i + 1 :]:
                if nxt.role == "norm":
                    normalised = True
                elif nxt.role == "activation":
                    activation = nxt.kind
                    break
                elif nxt.role in ("weight", "embedding"):
                    break
            self.after[r.name] = (activation, normalised)

    def pos(self, names: list[str]) -> list[int]:
        return [self.index[n] for n in names if n in self.index]

    def init_ratios(self, rows: list[LayerStats] | None = None) -> list[tuple[LayerStats, str, float, float, str]]:
        """(row, reference name, reference std, measured/reference, fix line) for un-normalised weight layers."""
        out = []
        for r in rows if rows is not None else self.weights:
            if r.weight_std is None or r.fan_in is None or r.spectral_radius is not None:
                continue
            activation, normalised = self.after.get(r.name, (None, False))
            if normalised:
                continue
            name, std, line = reference_init(r, activation)
            out.append((r, name, std, r.weight_std / std, line))
        return out

    def describe(self, r: LayerStats) -> str:
        return f"#{self.index[r.name]} ({display_name(r.name)}, {r.kind})"


def _median(values: list[float]) -> float:
    s = sorted(values)
    return s[len(s) // 2] if len(s) % 2 else math.sqrt(s[len(s) // 2 - 1] * s[len(s) // 2])


def _init_fix(lines: set[str], kinds: str) -> str:
    body = "\n".join(f"        {line}" for line in sorted(lines))
    return (
        f"for m in model.modules():\n    if isinstance(m, ({kinds})):\n{body}\n"
        "        if m.bias is not None:\n            nn.init.zeros_(m.bias)"
    )


def _layer_types(rows: list[LayerStats]) -> str:
    kinds = sorted({f"nn.{r.kind}" for r in rows})
    return ", ".join(kinds) if len(kinds) > 1 else kinds[0] + ","


def _init_cause(m: _Model, rows: list[LayerStats], direction: int) -> tuple[str, str, dict[str, float]] | None:
    """The init-scale cause, if the weights are off their reference in the direction of the phenomenon (±1)."""
    ratios = m.init_ratios(rows)
    if not ratios:
        return None
    median = _median([q for _, _, _, q, _ in ratios])
    if not (median > INIT_TOLERANCE if direction > 0 else median < 1 / INIT_TOLERANCE):
        return None
    r, ref, std, q, _ = min(ratios, key=lambda t: abs(math.log(t[3] / median)))  # the most typical layer
    refs = sorted({t[1] for t in ratios})
    cause = (
        f"the weights' std is {r.weight_std:.3g} where {ref} init for fan_in {r.fan_in} gives {std:.3g} "
        f"({q:.3g}×; median over {len(ratios)} layer(s) {median:.3g}×): each layer multiplies the signal by about "
        f"that factor ({INIT_SOURCE[ref]})"
    )
    lines = [t[4] for t in ratios]
    common = max(set(lines), key=lines.count)  # hidden layers; the readout (LeCun) may keep its own init
    fix = _init_fix({common}, _layer_types([t[0] for t in ratios if t[4] == common]))
    if len(refs) > 1:
        fix += "\n# for the hidden layers; a layer followed by no activation (the readout) can keep its init"
    return cause, fix, {"weight_std": r.weight_std, "reference_std": std, "init_ratio": median}


# --- the one-pass findings -----------------------------------------------------------------------------------------


def find_findings(report: Report) -> list[Finding]:
    """Group the report's flags into findings, root causes first, each followed by its consequences."""
    m = _Model(report)
    th = report.thresholds
    pending: list[Flag] = list(report.flags)
    chains: list[tuple[Finding, list[Finding]]] = []

    def take(pred) -> list[Flag]:
        got = [f for f in pending if pred(f)]
        for f in got:
            pending.remove(f)
        return got

    forward = _forward_signal(m, th)
    if forward is not None:
        direction = 1 if forward.kind == "exploding_forward" else -1
        consequences = _gradient_consequences(m, take, forward, direction)
        if direction > 0:
            consequences += _saturation_findings(m, take(lambda f: f.kind == "saturation"), forward)
            loss_finding = _initial_loss(m, th)
            if loss_finding is not None:
                consequences.append(_as_consequence(loss_finding, forward))
        chains.append((forward, consequences))

    for r in m.rows:
        if r.spectral_radius is not None and r.spectral_radius > th.max_spectral_radius:
            chains.append((_recurrent(m, r, th), []))

    if forward is None:
        loss_finding = _initial_loss(m, th)
        if loss_finding is not None:
            chains.append((loss_finding, _gradient_consequences(m, take, loss_finding, 1, only_ratio=True)))

    saturated = take(lambda f: f.kind == "saturation")
    if saturated:
        (root,) = _saturation_findings(m, saturated, None)
        chains.append((root, _gradient_consequences(m, take, root, -1)))

    vanishing = [f for f in pending if f.kind == "vanishing"]
    sigmoids = [r for r in m.rows if r.kind == "Sigmoid" and r.act_mean is not None]
    if vanishing and sigmoids:
        chains.append((_sigmoid_vanishing(m, take(lambda f: f.kind == "vanishing"), sigmoids), []))

    dead = take(lambda f: f.kind == "dead_units")
    tiny = [c for c in chains if (c[0].measured.get("init_ratio") or 1.0) < 1 / INIT_TOLERANCE]
    if dead and tiny:  # tiny weights: each unit's pre-activation is ≈ its bias, the same for every sample
        finding = _dead_units(m, dead)
        tiny[0][1].append(_as_consequence(finding, tiny[0][0]))
        finding.cause += ": with tiny weights each unit's pre-activation is ≈ its bias, so a negative bias is final"
    elif dead:
        chains.append((_dead_units(m, dead), []))

    nonfinite = take(lambda f: f.kind == "non_finite")
    if nonfinite:
        chains.append((_non_finite(m, nonfinite, None), []))
    for kind in ("vanishing", "exploding"):
        flags = take(lambda f, k=kind: f.kind == k)
        if flags:
            chains.append((_gradient_finding(m, flags, kind, None), []))

    order = {"error": 0, "warning": 1}
    chains.sort(key=lambda c: (not any(x.kind == "non_finite" for x in c[1]), order[c[0].severity]))
    return [f for root, consequences in chains for f in (root, *consequences)]


def _as_consequence(finding: Finding, cause: str | Finding) -> Finding:
    title = cause.title if isinstance(cause, Finding) else cause.replace("_", " ")
    finding.role, finding.caused_by = "consequence", cause.kind if isinstance(cause, Finding) else cause
    finding.cause = f"a consequence of the {title} above"
    finding.fix = "fixed by the fix above"
    return finding


def _forward_signal(m: _Model, th: Thresholds) -> Finding | None:
    """The std of each weight layer's output along depth: growing or shrinking geometrically, or overflowing."""
    chain = [r for r in m.weights if r.act_std is not None]
    if len(chain) < 3:
        return None
    finite = [r for r in chain if not r.nonfinite_activations and r.act_std is not None and r.act_std > 0]
    first_bad = next((r for r in m.rows if r.nonfinite_activations), None)
    if len(finite) < 2:
        return None
    first, last = finite[0], finite[-1]
    total = last.act_std / first.act_std
    steps = m.weights.index(last) - m.weights.index(first)
    per_layer = total ** (1 / steps)
    overflow = first_bad is not None and m.index[first_bad.name] > m.index[first.name]
    if overflow or total > th.exploding_ratio:
        kind, word, direction = "exploding_forward", "grows", 1
    elif total < th.vanishing_ratio:
        kind, word, direction = "vanishing_forward", "shrinks", -1
    else:
        return None
    evidence = (
        f"the output std of the weight layers {word} ×{per_layer:.3g} per layer, from {fmt(first.act_std)} at "
        f"{m.describe(first)} to {fmt(last.act_std)} at {m.describe(last)}"
    )
    if overflow:
        evidence += f", and overflows (NaN/inf) at {m.describe(first_bad)}"
    found = _init_cause(m, chain, direction)
    if found is not None:
        cause, fix, measured = found
    elif not m.has_norm:
        cause = f"no normalisation layer in a stack of {len(m.weights)} weight layers, and no init mismatch found"
        fix = "add nn.LayerNorm(width) (or nn.BatchNorm1d) after each hidden nn.Linear"
        measured = {}
    else:
        cause, fix, measured = (
            "not determined from the weights (the layers' init is within 2× of its reference)",
            "",
            {},
        )
    names = [r.name for r in chain]
    return Finding(
        kind=kind,
        severity="error",
        layers=names,
        evidence=evidence,
        cause=cause,
        fix=fix,
        title=f"{'exploding' if direction > 0 else 'vanishing'} forward signal",
        span=span(m.pos(names)),
        measured={
            "growth_per_layer": per_layer,
            "first_std": first.act_std,
            "last_std": last.act_std,
            "overflow_layer": float(m.index[first_bad.name]) if overflow else None,
            **measured,
        },
    )


def _gradient_consequences(m: _Model, take, cause: Finding, direction: int, only_ratio: bool = False) -> list[Finding]:
    out = []
    nonfinite = take(lambda f: f.kind == "non_finite")
    if nonfinite:
        out.append(_non_finite(m, nonfinite, cause))
    kinds = ("exploding",) if direction > 0 else ("vanishing",)
    if not only_ratio:
        kinds = ("exploding", "vanishing")  # an exploding forward signal can make ∂L/∂W vanish and δ explode
    for kind in kinds:
        flags = take(lambda f, k=kind: f.kind == k and (not only_ratio or f.metric == "grad_data_ratio"))
        if flags:
            out.append(_gradient_finding(m, flags, kind, cause))
    return out


def _non_finite(m: _Model, flags: list[Flag], cause: Finding | None) -> Finding:
    first = next((r for r in m.rows if r.nonfinite_activations), None)
    where = f"from {m.describe(first)}" if first else "in the gradients"
    bad = [r.name for r in m.rows if r.nonfinite_activations or r.nonfinite_gradients]
    evidence = "; ".join(f.message for f in flags)
    finding = Finding(
        kind="non_finite",
        severity="error",
        layers=bad,
        evidence=evidence,
        cause="values beyond float range (≈ 3.4e38 in float32) become inf, then NaN",
        fix="find the layer where the values start to grow (the table's act std column) and fix its scale",
        title=f"NaN/inf {where}",
        span=span(m.pos(bad)),
        measured={"first_layer": float(m.index[first.name]) if first else None},
    )
    return _as_consequence(finding, cause) if cause else finding


def _gradient_finding(m: _Model, flags: list[Flag], kind: str, cause: Finding | None) -> Finding:
    names = sorted({f.layer for f in flags if f.layer is not None}, key=lambda n: m.index.get(n, 0))
    finding = Finding(
        kind=f"{kind}_gradient",
        severity="error",
        layers=names,
        evidence="; ".join(f.message for f in flags),
        cause="",
        fix="",
        title=f"{kind} gradients",
        span=span(m.pos(names)),
        measured={f.metric: f.value for f in flags},
    )
    if cause:
        return _as_consequence(finding, cause)
    deep = len(m.weights)
    found = _init_cause(m, m.weights, 1 if kind == "exploding" else -1)
    if found is not None:
        finding.cause, finding.fix, extra = found
        finding.measured.update(extra)
    elif not m.has_norm and deep >= 6:
        finding.cause = f"no normalisation layer in a stack of {deep} weight layers (and no init mismatch found)"
        finding.fix = "add nn.LayerNorm(width) (or nn.BatchNorm1d) after each hidden nn.Linear"
    else:
        finding.cause = "not determined from the weights"
        finding.fix = (
            "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # between backward() and step()"
            if kind == "exploding"
            else "add residual connections or normalisation layers"
        )
    return finding


def _saturation_findings(m: _Model, flags: list[Flag], cause: Finding | None) -> list[Finding]:
    if not flags:
        return []
    names = [f.layer for f in flags if f.layer is not None]
    rows = [m.rows[m.index[n] - 1] for n in names]
    kinds = sorted({r.kind for r in rows})
    finding = Finding(
        kind="saturation",
        severity="error" if len(flags) > 1 else "warning",
        layers=names,
        evidence=(
            f"{percent_range([f.value for f in flags])} of the values of {len(flags)} {'/'.join(kinds)} layer(s) are "
            f"saturated (φ′ < {m.report.thresholds.saturation_slope:g}·φ′(0); threshold "
            f"{pct(m.report.thresholds.max_saturated_fraction)}): the gradient through them is cut by 20× or more"
        ),
        cause="",
        fix="",
        title=f"saturated {'/'.join(kinds)} units",
        span=span(m.pos(names)),
        measured={"max_saturated_fraction": max(f.value for f in flags)},
    )
    if cause:
        return [_as_consequence(finding, cause)]
    before = [w for w in m.weights if m.after.get(w.name, (None, False))[0] in kinds]
    found = _init_cause(m, before, 1)
    preact = [w.act_std for w in before if w.act_std is not None]
    if found is not None:
        finding.cause, finding.fix = found[0], found[1]
        finding.measured.update(found[2])
    else:
        finding.cause = "the pre-activations are too wide for the activation's linear range"
        finding.fix = "normalise before the activation: nn.LayerNorm(width) or nn.BatchNorm1d(width)"
    if preact:
        finding.cause += f"; pre-activation std {min(preact):.3g}–{max(preact):.3g}"
    return [finding]


def _sigmoid_vanishing(m: _Model, flags: list[Flag], sigmoids: list[LayerStats]) -> Finding:
    means = [r.act_mean for r in sigmoids if r.act_mean is not None]
    grads = [w.weight_grad_norm for w in m.weights if w.weight_grad_norm]
    per_layer = (grads[0] / grads[-1]) ** (1 / max(1, len(grads) - 1)) if len(grads) >= 2 else math.nan
    sat = [r.saturated_fraction for r in sigmoids if r.saturated_fraction is not None]
    names = sorted({f.layer for f in flags if f.layer is not None} | {r.name for r in sigmoids}, key=m.index.get)
    ratios = m.init_ratios([w for w in m.weights if m.after.get(w.name, (None, False))[0] == "Sigmoid"])
    scale = ""
    if ratios:
        median = _median([q for *_, q, _ in ratios])
        scale = f" at {median:.2g}× Xavier scale"
    return Finding(
        kind="vanishing_gradient",
        severity="error",
        layers=names,
        evidence=(
            "; ".join(f.message for f in flags)
            + f"; ‖∂L/∂W‖ shrinks ×{per_layer:.2g} per weight layer towards the input"
            + (f"; only {pct(max(sat))} of sigmoid values saturated" if sat else "")
        ),
        cause=(
            f"{len(sigmoids)} sigmoid layer(s){scale}: each layer scales the back-propagated gradient by about "
            "σ_w·σ′ with σ′ ≤ 1/4, well below 1 at this weight scale; a larger gain could offset the 1/4, but the "
            f"outputs' mean of {min(means):.2f}–{max(means):.2f} (not zero) adds a common offset to every next "
            "pre-activation that saturates the units first (Glorot & Bengio 2010 §3.1; LeCun et al. 1998 §4.4)"
        ),
        fix=(
            "# ReLU with He init (He et al. 2015), or a zero-centred tanh with Xavier init (Glorot & Bengio 2010)\n"
            "nn.ReLU()  # in place of each nn.Sigmoid()\n"
            + _init_fix({'nn.init.kaiming_normal_(m.weight, nonlinearity="relu")'}, "nn.Linear,")
        ),
        title=f"vanishing gradients through {len(sigmoids)} sigmoid layers",
        span=span(m.pos(names)),
        measured={"shrink_per_layer": per_layer, **{f.metric: f.value for f in flags}},
    )


def _dead_units(m: _Model, flags: list[Flag]) -> Finding:
    names = [f.layer for f in flags if f.layer is not None]
    rows = [m.rows[m.index[n] - 1] for n in names]
    th = m.report.thresholds
    # The weight layer feeding each dead ReLU: a negative bias beyond the pre-activations' spread silences units.
    feeding = []
    for r in rows:
        before = [w for w in m.weights if m.index[w.name] < m.index[r.name]]
        if before:
            feeding.append(before[-1])
    negative = [w for w in feeding if w.bias_mean is not None and w.act_std and w.bias_mean < -0.5 * w.act_std]
    if negative:
        w = min(negative, key=lambda w: w.bias_mean or 0.0)
        cause = (
            f"negative biases: {m.describe(w)} has mean bias {w.bias_mean:.3g} against a pre-activation std of "
            f"{w.act_std:.3g}, so its units stay below 0"
        )
        fix = "nn.init.zeros_(layer.bias)  # for each layer feeding a ReLU; or nn.LeakyReLU(0.01) in place of nn.ReLU()"
    elif not m.has_norm:
        cause = (
            f"no normalisation in a stack of {len(m.weights)} weight layers: nothing re-centres the pre-activations, "
            "so some units stay negative for every sample"
        )
        fix = "nn.BatchNorm1d(width)  # between each hidden nn.Linear and its nn.ReLU; or nn.LeakyReLU(0.01)"
    else:
        cause = "units whose pre-activation is negative for every sample of the batch"
        fix = "nn.LeakyReLU(0.01)  # in place of nn.ReLU(): a small gradient still flows where z < 0"
    return Finding(
        kind="dead_units",
        severity="warning",
        layers=names,
        evidence=(
            f"dead units (≤ 0 for the whole batch) in {len(flags)} {'/'.join(sorted({r.kind for r in rows}))} "
            f"layer(s), {percent_range([f.value for f in flags])} (threshold {pct(th.max_dead_fraction)}): "
            "they get no gradient"
        ),
        cause=cause,
        fix=fix,
        title=f"dead units in {len(flags)} layer(s)",
        span=span(m.pos(names)),
        measured={"max_dead_fraction": max(f.value for f in flags)},
    )


def _initial_loss(m: _Model, th: Thresholds) -> Finding | None:
    report = m.report
    if report.chance_loss is None or not math.isfinite(report.loss):
        return None
    ratio = report.loss / report.chance_loss
    if ratio <= th.max_initial_loss_ratio:
        return None
    out = m.weights[-1] if m.weights else None
    evidence = (
        f"initial loss {report.loss:.4g} where a {report.num_classes}-class cross-entropy starts at "
        f"ln {report.num_classes} = {report.chance_loss:.4g} ({ratio:.3g}×, threshold {th.max_initial_loss_ratio:g}×); "
        f"logits std {fmt(report.logit_std)}"
    )
    cause = "the model is confidently wrong at initialisation: its logits are large (Karpathy, makemore part 3)"
    fix = ""
    if out is not None:
        if out.weight_std is not None and out.fan_in:
            lecun = math.sqrt(1 / out.fan_in)
            cause += (
                f"; the output layer {m.describe(out)} has weight std {out.weight_std:.3g} = "
                f"{out.weight_std / lecun:.3g}× LeCun's 1/√fan_in for fan_in {out.fan_in}"
            )
        fix = (
            f'with torch.no_grad():\n    out = model.get_submodule("{out.name}")\n'
            "    out.weight.mul_(0.01)  # logits ≈ 0 at init: loss ≈ ln C\n    if out.bias is not None:\n"
            "        out.bias.zero_()"
        )
    return Finding(
        kind="initial_loss",
        severity="error",
        layers=[out.name] if out else [],
        evidence=evidence,
        cause=cause,
        fix=fix,
        title="initial loss far above ln C",
        span=span(m.pos([out.name])) if out else "",
        measured={"loss": report.loss, "chance_loss": report.chance_loss, "ratio": ratio},
    )


def _recurrent(m: _Model, r: LayerStats, th: Thresholds) -> Finding:
    evidence = (
        f"{m.describe(r)}: hidden-to-hidden weight with spectral radius {r.spectral_radius:.3g} > "
        f"{th.max_spectral_radius:g}"
    )
    if r.time_grad_ratio is not None:
        evidence += f"; the last output's gradient reaching the first time step is {r.time_grad_ratio:.3g}× the last"
    return Finding(
        kind="recurrent_radius",
        severity="error",
        layers=[r.name],
        evidence=evidence,
        cause=(
            "a recurrent weight with spectral radius > 1 multiplies the state by up to that factor at every time "
            "step: gradients through time explode or, once tanh saturates, vanish (Pascanu et al. 2013 §3.1)"
        ),
        fix=(
            f'rnn = model.get_submodule("{r.name}")\nfor name, p in rnn.named_parameters():\n'
            '    if name.startswith("weight_hh"):\n        nn.init.orthogonal_(p)  # spectral radius 1\n'
            "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # in the loop, before step()"
        ),
        title=(
            f"{'exploding gradients through time: ' if (r.time_grad_ratio or 0) > 1 else ''}recurrent weight with "
            f"spectral radius {r.spectral_radius:.2g}"
        ),
        span=span(m.pos([r.name])),
        measured={"spectral_radius": r.spectral_radius, "time_grad_ratio": r.time_grad_ratio},
    )


# --- text ----------------------------------------------------------------------------------------------------------


def verdict(findings: list[Finding]) -> str:
    """One line: how many problems, root causes and consequences named."""
    if not findings:
        return "no problem found"
    parts = [
        f"{f.title} ({'root cause' if f.role == 'root_cause' else 'consequence'})"
        if any(g.caused_by == f.kind for g in findings) or f.role == "consequence"
        else f.title
        for f in findings
    ]
    return f"{len(findings)} problem{'s' if len(findings) > 1 else ''}: " + ", ".join(parts)


def render(findings: list[Finding]) -> str:
    """The verdict, then one block per finding; consequences indented under their cause."""
    lines = [verdict(findings)]
    for n, f in enumerate(findings, 1):
        pad = "    " if f.role == "consequence" else ""
        where = f" — {f.span}" if f.span else ""
        lines += ["", f"{pad}{n}. [{f.severity}] {f.title}{where}", f"{pad}   evidence: {f.evidence}"]
        if f.role == "consequence":
            lines.append(f"{pad}   {f.cause}")
            continue
        lines.append(f"{pad}   probable cause: {f.cause}")
        if f.fix:
            lines.append(f"{pad}   fix:")
            lines.extend(f"{pad}       {line}" for line in f.fix.splitlines())
    return "\n".join(lines)
