"""Diagnose the reader's own torch model: per-layer statistics from hooks, rules that name problems, a report.

Importing this package loads neither torch nor matplotlib; the functions import them when called.
"""

from gradnotes.diagnose.cli import load_factory, run_factory
from gradnotes.diagnose.findings import Finding
from gradnotes.diagnose.measure import diagnose
from gradnotes.diagnose.plot import plot
from gradnotes.diagnose.report import LayerStats, Report
from gradnotes.diagnose.rules import Flag, Thresholds
from gradnotes.diagnose.training import train, training_findings
from gradnotes.diagnose.watch import read_log, watch

__all__ = [
    "Finding",
    "Flag",
    "LayerStats",
    "Report",
    "Thresholds",
    "diagnose",
    "load_factory",
    "plot",
    "read_log",
    "run_factory",
    "train",
    "training_findings",
    "watch",
]
