"""``rlte demo``: the main job on embedded defaults."""

from __future__ import annotations

import argparse

from rlte.cli.common import data_dir_option, found_data_dir


def cmd_demo(args: argparse.Namespace) -> int:
    """Every baseline on Abilene at 60 % load: the real week when the data directory is found, the
    static topohub demands otherwise."""
    from rlte.cli import main

    found = found_data_dir(args.data_dir)
    if found:
        print(
            "rlte demo: the Abilene backbone with its real week of traffic at 60 % load; the first five "
            "days are history, the last two are evaluated"
        )
        argv = ["baselines", "--topology", "abilene", "--traffic", "abilene", "--load", "0.6",
                "--train-fraction", str(5 / 7), "--data-dir", found]  # fmt: skip
    else:
        print(
            "rlte demo: no data directory (set RLTE_DATA), so sndlib/abilene with its static topohub "
            "demands at 60 % load"
        )
        argv = ["baselines", "--topology", "sndlib/abilene", "--traffic", "topohub", "--load", "0.6"]
    return main(argv)


def add_commands(commands) -> None:
    p = commands.add_parser("demo", help="the main job on embedded defaults")
    data_dir_option(p)
    p.set_defaults(func=cmd_demo)
