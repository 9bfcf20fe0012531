"""Errors a user can act on: the CLI prints their message as one line, never a traceback."""


class VsbError(Exception):
    """What went wrong, with which input, and what to do."""
