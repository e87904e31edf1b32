"""What every `mirrors` command shares: output format, project directory, paths as shown, and
how a failure becomes one line on stderr with the documented exit code."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from artifact_mirrors.command_errors import (
    BadInputError,
    CommandError,
    OperationFailedError,
    located,
)
from artifact_mirrors.spec.errors import SpecErrors

if TYPE_CHECKING:
    from artifact_mirrors.spec.model import Project

BAD_INPUT = BadInputError.exit_code
err = Console(stderr=True, highlight=False)


class Format(StrEnum):
    table = "table"
    markdown = "markdown"
    json = "json"


def stdout_console() -> Console:
    # Read in CI logs and pasted into reviews: don't squeeze tables to 80 columns there.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def display(path: Path) -> Path:
    """``path`` relative to the cwd when it is below it: error messages show what users typed."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def project_root(project_dir: Path | None) -> Path:
    """The directory holding Pulumi.yaml: ``project_dir`` itself, or the nearest above the cwd."""
    start = (project_dir or Path.cwd()).resolve()
    candidates = (start,) if project_dir else (start, *start.parents)
    for d in candidates:
        if (d / "Pulumi.yaml").is_file():
            return d
    where = project_dir or Path.cwd()
    raise BadInputError(
        located(
            str(where),
            "no Pulumi.yaml here or above",
            str(where),
            "run inside the project or pass --project-dir",
        )
    )


ProjectDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--project-dir",
        "-C",
        help="Project directory (holds Pulumi.yaml). Default: the nearest one above the cwd.",
        file_okay=False,
    ),
]


def fail(message: str, code: int = BAD_INPUT) -> typer.Exit:
    """Print ``message`` on stderr as is; the caller raises the returned exit."""
    err.print(message, markup=False, soft_wrap=True)
    return typer.Exit(code)


def project_dir_or_fail(project_dir: Path | None) -> Path:
    try:
        return project_root(project_dir)
    except BadInputError as exc:
        raise fail(str(exc)) from None


def load_or_fail(spec: Path, releases: Path) -> Project:
    # Imported on use: pydantic, ruamel and jinja2 cost ~130 ms that `mirrors copy` doesn't need.
    from artifact_mirrors.spec.load import load_project

    try:
        return load_project(spec, releases)
    except SpecErrors as exc:
        raise fail(str(exc)) from None


@contextmanager
def command() -> Iterator[None]:
    """Turn the library's errors into one line on stderr and the documented exit code."""
    from botocore.exceptions import BotoCoreError, ClientError

    from artifact_mirrors.aws import AwsMirrorError

    try:
        yield
    except CommandError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(exc.exit_code) from None
    except SpecErrors as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(BadInputError.exit_code) from None
    except AwsMirrorError as exc:  # the library's messages are written for this output
        typer.echo(str(exc), err=True)
        raise typer.Exit(OperationFailedError.exit_code) from None
    except (BotoCoreError, ClientError) as exc:
        # botocore messages name the operation and error code, never a credential.
        typer.echo(f"AWS request failed: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(OperationFailedError.exit_code) from None
