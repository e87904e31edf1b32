"""What every `mirrors` command shares: output format, project directory, paths as shown."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from artifact_mirrors.command_errors import BadInputError, located


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
