"""A toy figure for the fixture site: a wave whose amplitude fades exponentially with the layer (no torch)."""

from __future__ import annotations

import math

from gradnotes.site import style
from gradnotes.site.labels import translator

LABELS = {
    "toy_wave": {"ko": "파동", "en": "wave"},
    "toy_envelope": {"ko": "포락선", "en": "envelope"},
}
t = translator(LABELS)

LAYERS = 30
DECAY = 10.0  # layers per factor e


def compute() -> dict:
    """The wave and its envelope at every layer."""
    layers = list(range(1, LAYERS + 1))
    envelope = [math.exp(-k / DECAY) for k in layers]
    wave = [e * math.cos(k) for k, e in zip(layers, envelope, strict=True)]
    return {"layers": layers, "envelope": envelope, "wave": wave}


def draw(data: dict, lang: str):
    fig = style.figure()
    ax = fig.subplots()
    ax.plot(data["layers"], data["wave"], label=t("toy_wave", lang))
    ax.plot(data["layers"], data["envelope"], linestyle="--", label=t("toy_envelope", lang))
    ax.set_xlabel(t("layer", lang))
    ax.legend()
    return fig


def check(data: dict) -> None:
    inside = all(abs(w) <= e + 1e-12 for w, e in zip(data["wave"], data["envelope"], strict=True))
    assert inside, "the wave stays in its envelope"
    assert data["envelope"][0] / data["envelope"][-1] > 10, "the amplitude fades more than tenfold over 30 layers"
