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

    exit_code = USAGE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    def within(self, doing: str, then: str = "", exit_code: int | None = None) -> CLIError:
        """This error said as the failure of `doing`, with `then` on a line of its own."""
        message = f"{doing} failed: {self}" + (f"\n{then}" if then else "")
        return type(self)(message, self.exit_code if exit_code is None else exit_code)


class Refused(CLIError):
    """The request is valid, but the state of the folder it names forbids it."""

    exit_code = REFUSED


class Failed(CLIError):
    """A step failed part-way: Copier, git, or a file that could not be written."""

    exit_code = FAILED


class Conflict(CLIError):
    """An upgrade step whose changes conflict with the user's."""

    exit_code = CONFLICT


class AnswerRefused(CLIError):
    """Copier refused an answer: a validator's message, or a value of the wrong type."""

    exit_code = USAGE


def as_cli_error(error: Exception) -> CLIError:
    """Any error as the CLI reports it: a CLIError as it is, anything else as a failure."""
    return error if isinstance(error, CLIError) else Failed(reason(error))


def reason(error: Exception) -> str:
    """An error as one line for people: Copier's own messages as they are, a file's error
    with its file, others with their type, which is all an assertion deep inside Copier
    has to say."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    message = str(error).strip()
    if type(error).__module__.startswith("copier"):
        return message
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
