"""Errors that end a command with a clear message instead of a traceback."""


class UserFacingError(Exception):
    """An error caused by input or environment that a person can fix.

    The command line prints its message and exits with status 2; no traceback.
    """
