"""Errors that end a CLI command with a one-line message and an exit code (no traceback).

The library functions behind `mirrors release add` and `mirrors verify` raise these; the CLI
(`artifact_mirrors.cli.common.command`) prints ``str(exc)`` to stderr and exits with
``exc.exit_code``.
"""

from __future__ import annotations

from artifact_mirrors.spec.errors import show_value

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class CommandError(Exception):
    exit_code = EXIT_FAILED


class OperationFailedError(CommandError):
    """The operation itself failed (AWS lookup, registry, drift): exit 1."""

    exit_code = EXIT_FAILED


class BadInputError(CommandError):
    """The user's input is wrong (arguments, files, spec): exit 2."""

    exit_code = EXIT_BAD_INPUT


def located(where: str, problem: str, got: object, hint: str, path: str = "") -> str:
    """``WHERE: path: problem (got VALUE). Hint: …`` in the same shape as spec errors."""
    prefix = f"{where}: {path + ': ' if path else ''}"
    return f"{prefix}{problem} (got {show_value(got)}). Hint: {hint}"
