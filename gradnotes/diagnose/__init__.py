"""Diagnose the reader's own torch model: per-layer statistics from hooks, rules that name problems, a report.

Importing this package loads neither torch nor matplotlib; the functions import them when called.
"""

from gradnotes.diagnose.cli import load_factory, run_factory
from gradnotes.diagnose.measure import diagnose
from gradnotes.diagnose.plot import plot
from gradnotes.diagnose.report import LayerStats, Report
from gradnotes.diagnose.rules import Flag, Thresholds

__all__ = ["Flag", "LayerStats", "Report", "Thresholds", "diagnose", "load_factory", "plot", "run_factory"]
