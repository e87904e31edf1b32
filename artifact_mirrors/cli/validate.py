"""`mirrors validate`: check the mirror spec and every release manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from artifact_mirrors.cli.common import (
    Command,
    ProjectDirOpt,
    display,
    load_or_fail,
    project_dir_or_fail,
    stdout_console,
)


def validate(
    project_dir: ProjectDirOpt = None,
    spec: Annotated[
        Path | None,
        typer.Option(help="Mirror spec (default: the stack's or mirrors/destinations.yaml)."),
    ] = None,
    releases: Annotated[
        Path | None, typer.Option(help="Release manifests directory (default: mirrors/releases).")
    ] = None,
) -> None:
    """Check the mirror spec and every release manifest; print one located line per problem."""
    root = project_dir_or_fail(project_dir)
    spec_file = display(spec or root / "mirrors/destinations.yaml")
    releases_dir = display(releases or root / "mirrors/releases")
    project = load_or_fail(spec_file, releases_dir)
    s = project.spec
    regions = sum(len(p.regions) for p in s.amis.partitions.values()) if s.amis else 0
    yanked = sum(1 for r in project.releases if r.yanked)
    stdout_console().print(
        f"ok: {spec_file}: {len(s.registries)} registries, {len(s.images)} images, "
        + (f"{len(s.charts)} Helm charts, " if s.charts else "")
        + f"{regions} AMI regions; {len(project.releases)} releases ({yanked} yanked)"
    )


def register(app: typer.Typer) -> None:
    app.command("validate", cls=Command)(validate)
