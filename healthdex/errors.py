"""The one exception type every stage raises for user errors, shown as a one-line message by the CLI."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad input, missing index, malformed profile); never shown as a traceback."""

    exit_code = 2
