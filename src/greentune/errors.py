"""The one exception type a user sees as a one-line message instead of a traceback."""


class GreentuneError(Exception):
    """A problem the user can act on; the message says what was wrong and what to do."""
