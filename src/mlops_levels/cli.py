"""`mlops-levels`: start an ML project at an MLOps maturity level and grow it."""

from __future__ import annotations

import argparse
import sys

from mlops_levels import __version__
from mlops_levels.commands import levels, new
from mlops_levels.errors import CLIError

COMMANDS = (new, levels)

EPILOG = """\
exit codes:
  0  success
  2  bad usage: an unknown flag, a bad answer or an unknown level
  3  refused: the destination's state forbids it (for example a non-empty folder)
  4  failed: a step failed part-way (Copier, git or a hook); the message says what
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-levels",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CLIError as error:
        print(f"mlops-levels: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("mlops-levels: interrupted", file=sys.stderr)
        return 130
