from rlte.cli import entry

entry()
