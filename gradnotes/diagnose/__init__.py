"""Diagnose the reader's own torch model: per-layer statistics from hooks, rules that name problems, a report."""

from gradnotes.diagnose.measure import Report, Thresholds, diagnose

__all__ = ["Report", "Thresholds", "diagnose"]
