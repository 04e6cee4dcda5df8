"""``python -m rlte.cli``."""

from rlte.cli import entry

entry()
