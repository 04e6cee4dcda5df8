"""The one error type rlte raises for bad input."""

from __future__ import annotations


class RlteError(Exception):
    """Bad input: a malformed file, an unknown id, a demand that cannot be routed, ...

    The message names the input and the problem in one line. The command line prints it and
    exits with status 2; library users catch it like any other exception.
    """
