"""``gradnotes diagnose FILE.py[:FUNCTION]``."""

from gradnotes.diagnose.measure import register_cli

__all__ = ["register_cli"]
