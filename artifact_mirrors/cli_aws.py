"""`mirrors release add` and `mirrors verify`: the commands that talk to AWS (and registries).

Exit codes: 0 ok, 1 the operation failed (AWS lookup, drift found), 2 bad input. Every failure
is one line on stderr (or one located line per problem), never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from artifact_mirrors.cli_common import (
    Format,
    ProjectDirOpt,
    display,
    project_root,
    stdout_console,
)
from artifact_mirrors.command_errors import (
    BadInputError,
    CommandError,
    OperationFailedError,
    located,
)
from artifact_mirrors.spec.errors import SpecErrors

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from artifact_mirrors.aws import ExpectedAmi, Finding, ResolvedAmi

# boto3 (~0.1 s) and the AWS library are imported inside the commands, so `mirrors validate`
# and `mirrors plan` do not pay for them.

VERIFY_SCHEMA = "artifact-mirrors/verify/v1"  # = verify_cmd.SCHEMA (tested)


@contextmanager
def _command() -> Iterator[None]:
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


release_app = typer.Typer(
    name="release",
    help="Pin releases: resolve them in the first-party sources into mirrors/releases/.",
    no_args_is_help=True,
)


RELEASE_ADD_HELP = (
    "Resolve release VERSION in the first-party sources and write mirrors/releases/VERSION.yaml."
    "\n\n"
    "Images: each image's SOURCE:VERSION tag is resolved to a digest and its platforms in the"
    " first-party registry (credentials as for `mirrors copy`), or read from --from-json FILE"
    " to pin digests you already checked."
    "\n\n"
    "AMIs: one per edition of the spec, found by tags (never by name) in amis.source.account /"
    " amis.source.region."
    "\n\n"
    "The manifest is checked like `mirrors validate` before it is written, and an existing"
    " manifest is never overwritten (exit 2). Exit 1 when a tag or an AMI cannot be resolved."
)

VERIFY_HELP = (
    "Prove every mirror of a stack still equals what was mirrored; exit 1 on drift."
    "\n\n"
    "Images: every release tag at every destination resolves to its pinned digest (a tag"
    " missing or moved is an error), a yanked release's tags are gone, and every floating tag"
    " (17, 17.0, latest) points where the stack put it or is gone when unpublished. --deep also"
    " compares each mirrored manifest tree byte for byte with the first-party source and checks"
    " its cosign .sig/.att/.sbom tags (a few more requests per tag)."
    "\n\n"
    "AMIs: each mirrored AMI exists, is available, has exactly the declared launch permissions"
    " (none for a yanked release), carries the mirror tags and is not about to deprecate."
    "\n\n"
    "Reads the stack outputs (--outputs FILE, or `pulumi stack output --json`) and the spec and"
    " manifests the stack config names. Registry credentials as for `mirrors copy` (a"
    " stack-config secret is not readable here: anonymous or the Docker credential store is"
    " used instead); AWS through the spec partitions' profiles."
    "\n\n"
    "Exit 0 when nothing is wrong (warnings allowed), 1 on drift, 2 on bad input."
)


@release_app.command("add", help=RELEASE_ADD_HELP)
def release_add_command(
    version: Annotated[str, typer.Argument(help="Release to pin, e.g. 17.0.1 (no leading v).")],
    channel: Annotated[str, typer.Option(help="Release channel written to the manifest.")] = (
        "stable"
    ),
    from_json: Annotated[
        Path | None,
        typer.Option(
            "--from-json",
            help='Image digests from a JSON file, {"IMAGE": {"digest": "sha256:…", "platforms":'
            " [...]}} for every image of the spec, instead of asking the registries.",
            dir_okay=False,
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            help="AWS profile for the AMI lookup. Default: amis.partitions.aws.profile of the"
            " spec, else the default credential chain."
        ),
    ] = None,
    spec: Annotated[
        Path | None, typer.Option(help="Mirror spec (default: mirrors/destinations.yaml).")
    ] = None,
    releases: Annotated[
        Path | None, typer.Option(help="Release manifests directory (default: mirrors/releases).")
    ] = None,
    project_dir: ProjectDirOpt = None,
) -> None:
    """Resolve release VERSION in the first-party sources; write its pinned manifest."""
    from artifact_mirrors import release_add
    from artifact_mirrors.aws import clients_for
    from artifact_mirrors.spec.load import load_spec

    with _command():
        root = project_root(project_dir)
        spec_file = display(spec or root / "mirrors/destinations.yaml")
        releases_dir = display(releases or root / "mirrors/releases")
        release_add.check_version(version)
        target = display(release_add.manifest_path(releases_dir, version))
        if not releases_dir.is_dir():
            raise BadInputError(
                located(
                    str(releases_dir),
                    "releases directory not found",
                    str(releases_dir),
                    "create it, or pass --releases",
                )
            )
        release_add.check_not_pinned(releases_dir, version, target)
        the_spec = load_spec(spec_file)
        assert the_spec is not None  # load_spec raises SpecErrors instead of returning None

        if from_json is not None:
            resolver = release_add.json_image_resolver(
                from_json, display(from_json), the_spec, version
            )
            images_how = f"from {display(from_json)} (--from-json)"
        else:
            resolver, how = release_add.default_image_resolver()
            images_how = f"each image's SOURCE:{version} tag resolved to a digest by {how}"

        amis: tuple[ResolvedAmi, ...] = ()
        amis_how = "none (the spec mirrors no AMIs)"
        if the_spec.amis is not None:
            a = the_spec.amis
            aws_target = a.partitions.get("aws")
            chosen = profile or (aws_target.profile if aws_target else None)
            ec2: EC2Client = clients_for("aws", a.source_region, chosen).ec2()
            amis = release_add.resolve_amis(a, version, ec2)
            amis_how = release_add.describe_ami_lookup(a, version)

        images = release_add.resolve_images(the_spec, version, resolver)
        resolved = release_add.ResolvedRelease(version, channel, images, amis)
        text = release_add.render_manifest(
            resolved,
            release_add.Provenance(
                user=release_add.current_user(),
                when=datetime.now(UTC),
                images_how=images_how,
                amis_how=amis_how,
            ),
        )
        release_add.write_manifest(text, version, spec_file, releases_dir, target)

        table = Table(title=f"release {version} ({channel}) pinned")
        table.add_column("kind")
        # Digests and AMI ids are the identity: never folded, so they can be copied whole.
        table.add_column("name", no_wrap=True)
        table.add_column("pinned", no_wrap=True)
        table.add_column("detail", overflow="fold")
        for row in release_add.summary_rows(resolved):
            table.add_row(*row)
        console = stdout_console()
        console.print(table)
        console.print(
            f"wrote {target}: {len(images)} images, {len(amis)} AMIs. Review with "
            f"`mirrors plan --stack prod --release {version} --format markdown`",
            markup=False,
            soft_wrap=True,
        )


def verify_command(
    stack: Annotated[
        str, typer.Option("--stack", "-s", help="Stack name: reads stacks/Pulumi.<stack>.yaml.")
    ],
    outputs: Annotated[
        Path | None,
        typer.Option(
            "--outputs",
            help="The stack outputs as `pulumi stack output --json -s NAME` prints them."
            " Default: run that command (needs the pulumi CLI and a login).",
            dir_okay=False,
        ),
    ] = None,
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="table (terminal), markdown (pull request / issue) or json (stable schema "
            f"{VERIFY_SCHEMA}).",
        ),
    ] = Format.table,
    warn_days: Annotated[
        int,
        typer.Option(
            "--warn-days", min=0, help="Warn when an AMI deprecates within this many days."
        ),
    ] = 90,
    images_only: Annotated[
        bool,
        typer.Option("--images-only", help="Check only the image tags (no AWS calls)."),
    ] = False,
    amis_only: Annotated[
        bool,
        typer.Option("--amis-only", help="Check only the AMIs (no registry calls)."),
    ] = False,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Images: also compare every manifest with the first-party source byte for"
            " byte and check the cosign signature tags.",
        ),
    ] = False,
    project_dir: ProjectDirOpt = None,
) -> None:
    """Check every mirror of a stack (image tags, AMIs) against the spec; exit 1 on drift."""
    from artifact_mirrors import verify_cmd, verify_images
    from artifact_mirrors.aws import (
        clients_for,
        findings_markdown,
        findings_table,
        verify_mirrored_amis,
    )
    from artifact_mirrors.spec.load import load_project

    with _command():
        if images_only and amis_only:
            raise BadInputError(
                located(
                    "--images-only",
                    "cannot be combined with --amis-only",
                    "both",
                    "leave both out to check images and AMIs",
                )
            )
        root = project_root(project_dir)
        stack_file = verify_cmd.stack_file(root, stack)
        if not stack_file.is_file():
            known = sorted(
                p.name[len("Pulumi.") : -len(".yaml")]
                for p in (root / "stacks").glob("Pulumi.*.yaml")
            )
            raise BadInputError(
                located(
                    str(display(stack_file)),
                    "stack not found",
                    stack,
                    f"stacks here: {', '.join(known) or 'none'}",
                )
            )
        spec_file, releases_dir = verify_cmd.stack_paths(root, stack, display(stack_file))
        project = load_project(display(spec_file), display(releases_dir))
        if outputs is not None:
            where = str(display(outputs))
            raw = verify_cmd.read_outputs_file(outputs, display(outputs))
        else:
            where = f"pulumi stack output --json --stack {stack}"
            raw = verify_cmd.pulumi_outputs(stack, root)
        deployed = verify_cmd.parse_outputs(raw, where)

        findings: list[Finding] = []
        expected: list[ExpectedAmi] = []
        tags: list[verify_images.ExpectedTag] = []
        if not amis_only:
            # Images first: a bad outputs shape is exit 2 before any AWS call.
            tags, notes = verify_images.image_expectations(project, raw, where)
            findings += notes
            with verify_images.RegistryPool(project) as pool:
                findings += verify_images.verify_image_tags(tags, pool, deep=deep)
        if not images_only:
            expected, notes = verify_cmd.expectations(project, deployed)
            profiles = {
                str(name): target.profile
                for name, target in (
                    project.spec.amis.partitions.items() if project.spec.amis else ()
                )
            }

            def ec2_for(partition: str, region: str) -> EC2Client:
                return clients_for(partition, region, profiles.get(partition)).ec2()

            findings += notes + verify_mirrored_amis(
                expected, ec2_for, datetime.now(UTC), timedelta(days=warn_days)
            )

        # Name what was checked: an AMI-only stack reads "8 AMIs verified" as before.
        amis_checked = None if images_only or (tags and not expected) else len(expected)
        tags_checked = None if amis_only or (expected and not tags) else len(tags)
        if fmt is Format.json:
            sys.stdout.write(verify_cmd.to_json(stack, findings, len(expected), len(tags)))
        elif fmt is Format.markdown:
            sys.stdout.write(findings_markdown(findings, amis_checked, tags_checked))
        else:
            stdout_console().print(findings_table(findings, amis_checked, tags_checked))
    if verify_cmd.has_errors(findings):
        raise typer.Exit(OperationFailedError.exit_code)


def register(app: typer.Typer) -> None:
    """Add `release add` and `verify` to the `mirrors` CLI."""
    app.add_typer(release_app, name="release")
    app.command("verify", help=VERIFY_HELP)(verify_command)
