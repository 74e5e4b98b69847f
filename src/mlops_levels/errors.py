"""The errors the CLI reports, each with its documented exit code."""

from __future__ import annotations

# Exit codes, documented in README.md. 2 is also argparse's usage error.
OK = 0
USAGE = 2  # a bad flag, answer or level
REFUSED = 3  # the request is valid but the destination's state forbids it
FAILED = 4  # a step failed part-way (Copier, git, a hook)
CONFLICT = 5  # `upgrade` stopped at a step whose changes conflict with the user's


class CLIError(Exception):
    """A failure shown to the user as one message, without a traceback."""

    def __init__(self, message: str, exit_code: int = USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code
