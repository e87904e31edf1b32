"""`mirrors plan`: everything a stack update mirrors, offline (the program under mocks)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from artifact_mirrors.cli.common import (
    Command,
    ProjectDirOpt,
    StackOpt,
    display,
    existing_stack_file,
    fail,
    load_or_fail,
    project_dir_or_fail,
    stdout_console,
)
from artifact_mirrors.command_errors import BadInputError, located
from artifact_mirrors.spec.errors import SpecErrors

if TYPE_CHECKING:
    from artifact_mirrors.spec.model import Project


class PlanFormat(StrEnum):
    table = "table"
    markdown = "markdown"
    json = "json"
    outputs = "outputs"


def plan(
    stack: StackOpt,
    release: Annotated[
        str | None,
        typer.Option(
            "--release", "-r", help="Show only this release and the floating tags that point at it."
        ),
    ] = None,
    fmt: Annotated[
        PlanFormat,
        typer.Option(
            "--format",
            "-f",
            help="table (terminal), markdown "
            "(paste into a pull request; kept under GitHub's 65,536-character comment limit), "
            "json (stable schema artifact-mirrors/plan/v1, for scripts) or outputs (the stack "
            "outputs an update would record, for `mirrors verify --outputs` without the Pulumi "
            "CLI; AMI ids are known only after a copy).",
        ),
    ] = PlanFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="An earlier plan JSON (`mirrors plan --format json`, e.g. main's): show what an "
            "update from that program to this one would create, update, replace, forget or "
            "delete, per release and destination (an offline estimate; `pulumi preview` "
            "decides).",
            dir_okay=False,
        ),
    ] = None,
    project_dir: ProjectDirOpt = None,
) -> None:
    """Show everything a stack update mirrors, offline.

    Runs the real Pulumi program under Pulumi's mocks: no Pulumi CLI, no credentials, no network,
    and each dynamic resource's real Check (what `pulumi preview` would reject fails the plan).
    It lists the desired state (every tag, repository, AMI copy and launch permission per release,
    and where each floating tag points). With --against BASE.json it prints the step plan of an
    update from BASE instead: an estimate from the inputs and the providers' own Diff, not a
    diff against what is deployed (that is `pulumi preview`'s job).
    """
    from artifact_mirrors import plan as planlib

    root = project_dir_or_fail(project_dir)
    base: tuple[str, list[Any]] | None = None
    if against is not None:
        hint = "pass a plan written by `mirrors plan --stack NAME --format json -o FILE`"
        try:
            base = planlib.load_base(against.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise fail(
                located(str(display(against)), "file not found", str(against), hint, "--against")
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            where, problem = str(display(against)), f"cannot read it ({type(exc).__name__})"
            raise fail(located(where, problem, str(exc), hint, "--against")) from None
        except planlib.BaseError as exc:
            raise fail(
                located(str(display(against)), exc.problem, exc.got, hint, "--against")
            ) from None
    try:
        existing_stack_file(root, stack)
    except BadInputError as exc:
        raise fail(str(exc)) from None
    exported: dict[str, Any] = {}
    resources, meta, project = _render(root, stack, exported)
    if fmt is PlanFormat.outputs:
        _write_outputs(resources, exported, release, meta, stack, output)
        return
    from artifact_mirrors import plan_markdown

    result = planlib.build_plan(stack, resources)
    planlib.attach_release_metadata(result, meta)
    plan_markdown.annotate_sources(result, project)
    if base is not None:
        from components import mockrun

        assert against is not None
        result["steps"] = planlib.build_steps(
            base[1],
            resources,
            mockrun.offline_decision,
            base_file=str(display(against)),
            base_stack=base[0],
        )
        plan_markdown.annotate_against(result, base[1])
    if release is not None:
        if release not in meta:
            raise fail(
                f"--release: no such release in stack {stack} (got {release}). "
                f"Hint: releases: {', '.join(meta)}"
            )
        whole = result
        result = planlib.only_release(result, release)
        if base is None:
            plan_markdown.annotate_release(result, whole, project, release)
    tables: list[Any] = []
    if fmt is PlanFormat.json:
        text = planlib.to_json(result)
    elif fmt is PlanFormat.markdown:
        text = (
            planlib.render_steps_markdown(result)
            if base is not None
            else planlib.render_markdown(result)
        )
    else:
        text = ""
        render = planlib.render_step_tables if base is not None else planlib.render_tables
        tables = list(render(result))
    if output is not None:
        if fmt is PlanFormat.table:
            with output.open("w", encoding="utf-8") as fh:
                console = Console(file=fh, width=160, highlight=False)
                for table in tables:
                    console.print(table)
        else:
            output.write_text(text, encoding="utf-8")
        return
    if fmt is PlanFormat.table:
        for table in tables:
            stdout_console().print(table)
    else:
        sys.stdout.write(text)


def _write_outputs(
    resources: list[Any],
    exported: dict[str, Any],
    release: str | None,
    meta: dict[str, dict[str, Any]],
    stack: str,
    output: Path | None,
) -> None:
    """``--format outputs``: the JSON `pulumi stack output --json` would print after `pulumi up`."""
    import json

    from components import mockrun

    outputs = mockrun.stack_outputs(resources, exported)
    if release is not None:
        if release not in meta:
            raise fail(
                f"--release: no such release in stack {stack} (got {release}). "
                f"Hint: releases: {', '.join(meta)}"
            )
        outputs["releases"] = {release: outputs["releases"][release]}
        outputs["floating_tags"] = {
            ref: ft for ref, ft in outputs["floating_tags"].items() if ft["release"] == release
        }
    text = json.dumps(outputs, indent=2) + "\n"
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _render(
    root: Path, stack: str, exported: dict[str, Any] | None = None
) -> tuple[list[Any], dict[str, dict[str, Any]], Project]:
    """Run the program under mocks; spec errors surface as the program would raise them."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # the components package lives beside Pulumi.yaml
    import pulumi

    from components import mockrun, program

    config = mockrun.stack_config(root, stack)
    spec_rel = config.get(f"{program.CONFIG_NAMESPACE}:spec") or program.DEFAULT_SPEC
    rel_rel = config.get(f"{program.CONFIG_NAMESPACE}:releasesDir") or program.DEFAULT_RELEASES
    # Validate first so bad input gets the located one-line errors, not a Pulumi RunError.
    project = load_or_fail(display(root / spec_rel), display(root / rel_rel))
    try:
        resources = mockrun.render(root, stack, config, exported, loaded=project)
    except pulumi.RunError as exc:
        raise fail(str(exc), 1) from None
    _check(root / spec_rel, mockrun.run_checks(resources))
    _warn_unarchived(project, root / rel_rel, stack)
    meta = {
        r.name: {"channel": r.channel, "yanked": r.yanked, "reason": r.reason}
        for r in project.releases
    }
    return resources, meta, project


def _warn_unarchived(project: Project, releases_dir: Path, stack: str) -> None:
    """One warning line per release the window retires that has no archive record."""
    from artifact_mirrors import archive
    from artifact_mirrors.window import select

    if project.spec.window is None:
        return
    target = archive.archive_dir(releases_dir)
    records = archive.load_archive(target)  # the program read it already: valid
    for release in select(project.releases, project.spec.window).retired:
        if release.name not in records:
            file = display(target / f"{release.name}.yaml")
            typer.echo(archive.missing_record_warning(release.name, file, stack), err=True)


def _check(spec_file: Path, problems: list[Any]) -> None:
    """Fail with one located line per distinct Check failure, as `pulumi preview` would fail."""
    if not problems:
        return
    from artifact_mirrors import plan as planlib
    from artifact_mirrors.spec.yamlio import load_document

    try:
        doc = load_document(display(spec_file), what="mirror spec")
    except SpecErrors as exc:
        raise fail(str(exc)) from None
    failures = [
        planlib.CheckFailure(
            p.type, p.urn.rsplit("::", 1)[-1], dict(p.inputs), p.property, p.reason
        )
        for p in problems
    ]
    errors = planlib.locate_check_failures(doc, failures)
    raise fail("\n".join(str(e) for e in errors))


def register(app: typer.Typer) -> None:
    app.command("plan", cls=Command)(plan)
