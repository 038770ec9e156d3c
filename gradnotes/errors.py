"""Errors a user can cause: the CLI prints them as one line and exits 2, never a traceback."""


class UserError(Exception):
    """Bad input (unknown name, impossible size, broken file): shown as one line, exit status 2."""


class FigureError(Exception):
    """A figure failed to compute, draw or prove its claim; the message names the figure."""
