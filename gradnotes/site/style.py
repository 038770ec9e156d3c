"""One figure style for the build, the notebooks and the tests: deterministic SVG bytes, Hangul without tofu."""

from __future__ import annotations

import importlib.util
import io
import logging
import re
import sys
import warnings
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # headless builds render with Agg; a notebook keeps its inline backend
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gradnotes.errors import UserError  # noqa: E402

# Okabe–Ito: colour-blind safe; every hue keeps contrast on the white card the figures are drawn on.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#7F7F7F",
}
CYCLE = ["blue", "vermillion", "green", "orange", "purple", "sky", "black"]
# One colour per meaning, on every figure: an activation, an init or a norm keeps its colour from figure to figure
# (tests/site/test_style.py fails on a figure that spells out its own colour for one of these names).
COLORS = {
    # activations
    "sigmoid": PALETTE["vermillion"],
    "tanh": PALETTE["orange"],
    "relu": PALETTE["blue"],
    "leaky_relu": PALETTE["green"],
    "elu": PALETTE["purple"],
    "gelu": PALETTE["sky"],
    "silu": PALETTE["black"],
    "centered_sigmoid": PALETTE["grey"],  # the one Okabe-Ito hue left that reads on light and dark backgrounds
    # initialisations: a family shares its hue (uniform and normal differ by line style where both appear)
    "standard_normal": PALETTE["vermillion"],
    "small_normal": PALETTE["sky"],
    "xavier_uniform": PALETTE["orange"],
    "xavier_normal": PALETTE["orange"],
    "he_uniform": PALETTE["blue"],
    "he_normal": PALETTE["blue"],
    "torch_default": PALETTE["purple"],
    "orthogonal": PALETTE["green"],
    "lecun_normal": PALETTE["black"],
    # normalisations
    "none": PALETTE["vermillion"],
    "batchnorm": PALETTE["blue"],
    "batchnorm_folded": PALETTE["sky"],
    "layernorm": PALETTE["green"],
    "groupnorm": PALETTE["purple"],
    "instancenorm": PALETTE["orange"],
    "rmsnorm": PALETTE["black"],
}
# Two widths, in inches at 100 dpi: the body column (~700 px) and the full page (~1000 px).
BODY_WIDTH = 7.0
PAGE_WIDTH = 10.0
KOREAN_FONT_FILE = "NanumGothic.ttf"
_INSTALL_HINT = "pip install koreanize-matplotlib (it carries NanumGothic.ttf)"


def korean_font_path() -> Path:
    """Locate NanumGothic in the koreanize-matplotlib wheel without importing it (its import mutates rcParams)."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or spec.origin is None:
        raise UserError(f"the Korean font is missing: {_INSTALL_HINT}")
    path = Path(spec.origin).parent / "fonts" / KOREAN_FONT_FILE
    if not path.is_file():
        # the package is there, its font is not: installing it again is the fix, not installing it
        raise UserError(
            f"koreanize-matplotlib is installed but {path} is missing: "
            "pip install --force-reinstall --no-deps koreanize-matplotlib"
        )
    return path


def apply() -> None:
    """Set the shared rcParams; idempotent, safe to call from notebooks."""
    font_path = korean_font_path()
    if font_path.name not in {Path(f.fname).name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(font_path))
    plt.rcdefaults()
    plt.rcParams.update(
        {
            # DejaVu first: NanumGothic first would lose the math minus sign on log ticks.
            "font.family": ["DejaVu Sans", "NanumGothic"],
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.color": "#DDDDDD",
            "grid.linewidth": 0.6,
            "axes.prop_cycle": matplotlib.cycler(color=[PALETTE[c] for c in CYCLE]),
            "lines.linewidth": 1.8,
            "figure.dpi": 100,
            "figure.facecolor": "white",  # an opaque card: legible on Material's light and dark palettes alike
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "svg.fonttype": "path",  # text as paths: no font needed in the reader's browser
            "svg.hashsalt": "gradnotes",  # fixed ids → byte-identical SVGs across processes
            "path.simplify": True,
            "mathtext.fontset": "dejavusans",
        }
    )


def figure(width: float = BODY_WIDTH, height: float = 3.4, **kwargs) -> Figure:
    """A new figure in the house style (``apply`` first)."""
    apply()
    return plt.figure(figsize=(width, height), layout="constrained", **kwargs)


class _GlyphLog(logging.Handler):
    """Collects mathtext's "does not have a glyph" log records (mathtext logs instead of warning)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "glyph" in record.getMessage():
            self.messages.append(record.getMessage())


def save_svg(fig: Figure) -> bytes:
    """Render ``fig`` to deterministic SVG bytes; a glyph missing from every font is an error, not a log line."""
    buffer = io.BytesIO()
    handler = _GlyphLog()
    mathtext_log = logging.getLogger("matplotlib.mathtext")
    mathtext_log.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    finally:
        mathtext_log.removeHandler(handler)
        plt.close(fig)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)] + handler.messages
    if missing:
        raise ValueError(f"missing glyph in figure text: {missing[0]}")
    return _compact(buffer.getvalue())


_PATH_DATA = re.compile(rb' d="([^"]*)"')
_LONG_DECIMAL = re.compile(rb"-?\d+\.\d{3,}")


def _compact(svg: bytes) -> bytes:
    """Path coordinates to 1/100 unit (matplotlib writes 1/1,000,000) and no whitespace between tags: ~10 % smaller.

    Only ``d`` attributes are rounded: transforms carry small scale factors (glyphs are drawn at ``scale(0.0156)``).
    """

    def round_path(match: re.Match[bytes]) -> bytes:
        return b' d="' + _LONG_DECIMAL.sub(lambda m: b"%.2f" % float(m.group(0)), match.group(1)) + b'"'

    return re.sub(rb">\s+<", b"><", _PATH_DATA.sub(round_path, svg))
