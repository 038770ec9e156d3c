"""The "explore this" links: for every page figure that the engine simulates, the explorer view of the same
configuration (the hooks add the link under the figure; tests/site/test_explorer_links.py holds every engine figure
to an entry here). Kept apart from explorer.py, whose source keys the grid: editing a link recomputes nothing."""

from __future__ import annotations

import json

from gradnotes import keys, paths


def _view(a: str, i: str, n: str = "none", r: int = 0, d: int = 30, w: int = 256, b: int = 30) -> dict:
    return {"a": a, "i": i, "n": n, "r": r, "d": d, "w": w, "b": b}


# figure id -> the explorer view it shows (the first case, where a figure has several)
VIEWS = {
    "vanishing_exploding": _view("sigmoid", "xavier_uniform"),
    "saturation_histograms": _view("sigmoid", "xavier_uniform"),
    "init_grid": _view("relu", "xavier_uniform"),
    "init_depth_profiles": _view("relu", "xavier_normal"),
    "init_distributions": _view("relu", "he_uniform"),
    "torch_default_init": _view("relu", "torch_default"),
    "sigmoid_gain": _view("centered_sigmoid", "xavier_normal"),
    "dead_relu": _view("relu", "he_normal", d=100),
    "bn_depth_gradients": _view("sigmoid", "xavier_normal", "batchnorm"),
    "bn_init_insensitivity": _view("relu", "standard_normal", "batchnorm"),
    "residual_depth": _view("sigmoid", "xavier_uniform", r=1, d=100),
}
# engine figures without a view, and why (the explorer's grid has no such axis)
NO_VIEW: dict[str, str] = {}


def write() -> None:
    """links.json for the hooks (never imported by them): {figure id: query string}."""
    out = paths.cache_dir() / "explorer" / "links.json"
    links = {fig: "?" + "&".join(f"{k}={v}" for k, v in view.items()) for fig, view in sorted(VIEWS.items())}
    keys.write_if_changed(out, json.dumps(links, sort_keys=True, indent=1))
