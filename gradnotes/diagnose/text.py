"""How the diagnosis writes layer names and numbers: shared by the table, the flag messages and the plot."""

from __future__ import annotations


def display_name(name: str) -> str:
    """The layer's name as ``model.named_modules()`` gives it; the root module, named "", is "(model)"."""
    return name or "(model)"


def fmt(value: float | None) -> str:
    """Three significant digits; "—" when not measured."""
    return "—" if value is None else f"{value:.3g}"


def pct(value: float | None) -> str:
    """A fraction as a percentage with one decimal; "—" when not measured."""
    return "—" if value is None else f"{100 * value:.1f}%"
