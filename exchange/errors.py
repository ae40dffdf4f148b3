"""Errors that the CLI reports as one line (``exchange: error: ...``) with exit status 2."""


class UserError(Exception):
    """A problem with the user's input: a file, a line, a field, a flag. Say which."""
