"""`mlops-levels`: start an ML project at an MLOps maturity level and grow it."""

from __future__ import annotations

import argparse
import os
import sys

from mlops_levels import __version__, ui
from mlops_levels.commands import assess, diff, levels, new, upgrade
from mlops_levels.errors import CLIError

COMMANDS = (new, upgrade, levels, diff, assess)

EPILOG = """\
exit codes:
  0  success (`diff` whether or not the levels differ; `assess` whatever level it finds)
  2  bad usage: an unknown flag, a bad answer or an unknown level
  3  refused: the destination's state forbids it (for example a non-empty or read-only
     folder, or a `diff --project` folder with no or a corrupt .copier-answers.yml); for
     `upgrade`: a dirty or read-only tree, no git repository, a missing or corrupt answers
     file, a downgrade, the top level, or a template source that cannot be found
  4  failed: a step failed part-way (Copier, git, a hook, or writing the template cache);
     the message says what (`upgrade` undoes the unfinished step)
  5  conflicts: `upgrade` stopped at a step whose changes conflict with yours; it
     lists the files and what to do next (`--dry-run`: the upgrade would conflict)
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
        ui.error(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        ui.error("interrupted")
        return 130
    except BrokenPipeError:
        # The reader (head, a pager) stopped early: not an error. Silence the final flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
