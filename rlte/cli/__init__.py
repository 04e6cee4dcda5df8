"""The ``rlte`` command, one module per command group (`rlte.cli.topo`, `rlte.cli.traffic`,
`rlte.cli.baselines`, `rlte.cli.experiments`, `rlte.cli.bench`, `rlte.cli.demo`).

A user error (bad file, unknown id, mismatched nodes, negative or NaN demand, ...) raises
`rlte.errors.RlteError`; `main` prints its one-line message and exits with status 2. Anything else
is a bug in rlte and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rlte.errors import RlteError

#: The command groups, in ``rlte --help`` order.
GROUPS = ("topo", "traffic", "baselines", "experiments", "bench", "demo")


class Parser(argparse.ArgumentParser):
    """argparse's parser, its usage errors in rlte's one line (``rlte: error: ...``, exit 2) rather
    than the usage text and a line of its own. Its subcommands' parsers are of this class too."""

    def error(self, message: str):
        if message.startswith("argument --") and message.endswith("expected one argument"):
            option = message.removeprefix("argument ").split(":")[0].split("/")[0]
            message += f" (a value starting with '-', such as -1e9, is given as {option}=VALUE)"
        command = "" if self.prog == "rlte" else f"{self.prog}: "
        self.exit(2, f"rlte: error: {command}{message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from rlte import __version__

    parser = Parser(
        prog="rlte",
        description="Reinforcement learning for traffic engineering, beside the baselines and the LP optimum.",
    )
    parser.add_argument("--version", action="version", version=f"rlte {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        importlib.import_module(f"rlte.cli.{group}").add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error already printed in one line
        return int(stop.code or 0)
    try:
        return int(args.func(args) or 0)
    except RlteError as err:
        print(f"rlte: error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rlte: interrupted", file=sys.stderr)
        return 130


def entry() -> None:  # pragma: no cover - thin wrapper for the console script
    sys.exit(main())


__all__ = ["GROUPS", "Parser", "build_parser", "entry", "main"]
