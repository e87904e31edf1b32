"""`mirrors archive`: keep the record of every release the supported-release window retires.

Run it in the pull request that moves the window (a new release, a narrower window): it reads the
stack outputs and writes ``mirrors/archive/<version>.yaml`` for each release outside the window
that the stack still records, so `mirrors verify` and the audit keep it after the update forgets it
(artifact_mirrors/archive.py). Exit 0 ok, 1 a lookup failed, 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from artifact_mirrors.cli.common import (
    ProjectDirOpt,
    StackOpt,
    command,
    display,
    existing_stack_file,
    project_root,
)


def archive_command(
    stack: StackOpt,
    outputs: Annotated[
        Path | None,
        typer.Option(
            "--outputs",
            help="The stack outputs as `pulumi stack output --json -s NAME` prints them."
            " Default: run that command (needs the pulumi CLI and a login).",
            dir_okay=False,
        ),
    ] = None,
    project_dir: ProjectDirOpt = None,
) -> None:
    """Write mirrors/archive/<version>.yaml for every release the window retires."""
    from artifact_mirrors import archive, verify_cmd
    from artifact_mirrors.spec.load import load_project
    from artifact_mirrors.window import select

    with command():
        root = project_root(project_dir)
        stack_file = existing_stack_file(root, stack)
        spec_file, releases_dir = verify_cmd.stack_paths(root, stack, display(stack_file))
        project = load_project(display(spec_file), display(releases_dir))
        if outputs is not None:
            where = str(display(outputs))
            raw = verify_cmd.read_outputs_file(outputs, display(outputs))
        else:
            where = f"pulumi stack output --json --stack {stack}"
            raw = verify_cmd.pulumi_outputs(stack, root)
        verify_cmd.parse_outputs(raw, where)  # the shape, located
        recorded = raw["releases"]
        target = archive.archive_dir(releases_dir)
        existing = archive.load_archive(target)
        retired = select(project.releases, project.spec.window).retired
        written = 0
        for release in retired:
            record = recorded.get(release.name)
            if record is None:
                if release.name not in existing:
                    # Not recorded by the stack either (never deployed, or already forgotten).
                    file = display(target / f"{release.name}.yaml")
                    typer.echo(archive.missing_record_warning(release.name, file, stack), err=True)
                continue
            file = target / f"{release.name}.yaml"
            text = archive.render_record(release.name, record)
            if file.is_file() and file.read_text(encoding="utf-8") == text:
                continue
            target.mkdir(parents=True, exist_ok=True)
            file.write_text(text, encoding="utf-8")
            written += 1
            typer.echo(f"archived {release.name} -> {display(file)}")
        typer.echo(f"{len(retired)} releases outside the window, {written} archive records written")


def register(app: typer.Typer) -> None:
    app.command("archive")(archive_command)
