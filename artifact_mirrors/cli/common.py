"""What every `mirrors` command shares: output format, project directory, paths as shown, and
how a failure becomes one line on stderr with the documented exit code."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup, TyperOption

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


StackOpt = Annotated[
    str, typer.Option("--stack", "-s", help="Stack name: reads stacks/Pulumi.<stack>.yaml.")
]

ProjectDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--project-dir",
        "-C",
        help="Project directory (holds Pulumi.yaml). Default: the nearest one above the cwd.",
        file_okay=False,
    ),
]


def existing_stack_file(root: Path, stack: str) -> Path:
    """``stacks/Pulumi.<stack>.yaml``, or a located error that lists the stacks there."""
    file = root / "stacks" / f"Pulumi.{stack}.yaml"
    if not file.is_file():
        known = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in (root / "stacks").glob("Pulumi.*.yaml")
        )
        raise BadInputError(
            located(
                str(display(file)),
                "stack not found",
                stack,
                f"stacks here: {', '.join(known) or 'none'}",
            )
        )
    return file


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


# ---- help and usage errors -----------------------------------------------------------------------

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


class _FlagsShowNoType:
    """typer's help prints every option's type, so a flag reads ``--json <bool>`` as if it took
    a value. A flag takes none: show no type for it (an empty metavar is what typer prints)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
                param.metavar = ""
        return params


class Command(_FlagsShowNoType, TyperCommand):
    """Every `mirrors` command: ``app.command(NAME, cls=Command)``."""


class Group(_FlagsShowNoType, TyperGroup):
    """`mirrors` and its sub-groups. At the root, a usage error (unknown option, missing argument,
    bad value) is one line on stderr and exit 2, like every other bad input, instead of typer's
    usage text and a boxed message."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            # Not standalone: typer returns an exit code (from typer.Exit, --help, ...) instead
            # of calling sys.exit, and raises usage errors instead of printing them.
            code = super().main(args, prog_name, complete_var, False, **extra)
        except typer.Abort:
            err.print("Aborted.", markup=False)
            sys.exit(1)
        except typer.TyperException as exc:
            ctx = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError":
                # typer has printed the help already.
                sys.exit(BAD_INPUT)
            if ctx is None or not hasattr(exc, "cmd"):  # not a usage error: typer's own output
                typer.echo(f"{prog_name or 'mirrors'}: {exc}", err=True)
                sys.exit(getattr(exc, "exit_code", 1))
            typer.echo(usage_line(exc, ctx), err=True)
            sys.exit(BAD_INPUT)
        sys.exit(code if isinstance(code, int) else 0)


def usage_line(exc: Exception, ctx: Any) -> str:
    """``mirrors COMMAND: problem. Hint: mirrors COMMAND --help`` for one click usage error."""
    path = str(ctx.command_path)
    name = getattr(exc, "option_name", None)
    if name is not None:
        possibilities = sorted(getattr(exc, "possibilities", None) or ())
        problem = f"no such option {name}"
        if possibilities:
            problem += f" (did you mean {' or '.join(possibilities)}?)"
    else:
        message = " ".join(str(exc.format_message()).split()).rstrip(".")  # type: ignore[attr-defined]
        problem = message[:1].lower() + message[1:]
    if ctx.parent is not None:
        hint = f"{path} --help"
    elif problem.startswith("no such command"):
        hint = f"{path} --help lists the commands"
    else:
        hint = f"{path} COMMAND --help"
    return f"{path}: {problem}. Hint: {hint}"


def version_callback(value: bool) -> None:
    if value:
        from artifact_mirrors import __version__

        typer.echo(f"mirrors {__version__}")
        raise typer.Exit()
