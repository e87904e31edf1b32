"""`mirrors verify`: prove every mirror of a stack still equals what was mirrored.

Exit codes: 0 nothing wrong (warnings allowed), 1 drift found or a lookup failed, 2 bad input.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from artifact_mirrors.cli.common import (
    Command,
    Format,
    ProjectDirOpt,
    StackOpt,
    command,
    display,
    existing_stack_file,
    project_root,
    stdout_console,
)
from artifact_mirrors.command_errors import BadInputError, OperationFailedError, located

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_s3 import S3Client

    from artifact_mirrors.aws import ExpectedAmi, Finding

VERIFY_SCHEMA = "artifact-mirrors/verify/v1"  # = verify_cmd.SCHEMA (tested)

VERIFY_HELP = (
    "Prove every mirror of a stack still equals what was mirrored; exit 1 on drift."
    "\n\n"
    "Images: every release tag at every destination resolves to its pinned digest (a tag"
    " missing or moved is an error), a yanked release's tags are gone, and every floating tag"
    " (17, 17.0, latest) points where the stack put it or is gone when unpublished. --deep also"
    " compares each mirrored manifest tree byte for byte with the first-party source and checks"
    " its cosign .sig/.att/.sbom tags (a few more requests per tag)."
    "\n\n"
    "Helm charts: every chart tag at every destination resolves to its pinned digest (gone for"
    " a yanked release). --deep also reads the manifest and every blob at each mirror: the"
    " content layer is the pinned .tgz, the provenance layer the pinned .prov, the config what"
    " the chart's Chart.yaml builds."
    "\n\n"
    "AMIs: each mirrored AMI exists, is available, has exactly the declared launch permissions"
    " (none for a yanked release), carries the mirror tags and is not about to deprecate."
    "\n\n"
    "Terraform providers: every zip, sums and signature of every published version is at each"
    " destination with its pinned sha256 (the sha256 the copy recorded; --deep hashes the"
    " bytes), every download document / VERSION.json has exactly the expected content, and the"
    " index (versions / index.json) lists exactly the versions of the manifests not yanked."
    "\n\n"
    "Reads the stack outputs (--outputs FILE, or `pulumi stack output --json`) and the spec and"
    " manifests the stack config names. Registry credentials as for `mirrors copy` (a"
    " stack-config secret is not readable here: anonymous or the Docker credential store is"
    " used instead); AWS through the spec partitions' profiles."
    "\n\n"
    "Exit 0 when nothing is wrong (warnings allowed), 1 on drift, 2 on bad input."
)


def verify_command(
    stack: StackOpt,
    outputs: Annotated[
        Path | None,
        typer.Option(
            "--outputs",
            help="The stack outputs as `pulumi stack output --json -s NAME` prints them, or as"
            " `mirrors plan --format outputs` writes them (no Pulumi CLI: a rehearsal or a"
            " manual copy; AMIs not copied yet are errors). Default: run `pulumi stack output`"
            " (needs the pulumi CLI and a login).",
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
    providers_only: Annotated[
        bool,
        typer.Option(
            "--providers-only", help="Check only the Terraform provider mirrors (S3 only)."
        ),
    ] = False,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Images: also compare every manifest with the first-party source byte for"
            " byte, check the cosign signature tags, and verify the signature of every image"
            " with a verify: policy at every mirror (each verdict is listed; an invalid one is"
            " an error when the policy requires a signature). Helm charts: also check the"
            " manifest, the .tgz and .prov layers and the config blob against the release"
            " manifest's pins at every mirror, and verify each .prov against the chart's"
            " keyring. Terraform providers: also"
            " download and hash every zip, sums and signature.",
        ),
    ] = False,
    project_dir: ProjectDirOpt = None,
) -> None:
    """Check every mirror of a stack (image tags, AMIs, providers) against the spec; exit 1 on
    drift."""
    from artifact_mirrors import archive, verify_cmd, verify_images
    from artifact_mirrors.aws import (
        AwsClients,
        clients_for,
        findings_markdown,
        findings_table,
        verify_mirrored_amis,
    )
    from artifact_mirrors.spec.load import load_project
    from artifact_mirrors.terraform import verify as verify_providers

    with command():
        if images_only and amis_only:
            raise BadInputError(
                located(
                    "--images-only",
                    "cannot be combined with --amis-only",
                    "both",
                    "leave both out to check images and AMIs",
                )
            )
        if providers_only and (images_only or amis_only):
            raise BadInputError(
                located(
                    "--providers-only",
                    "cannot be combined with --images-only or --amis-only",
                    "--images-only" if images_only else "--amis-only",
                    "give one of them, or none to check everything",
                )
            )
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
        # Releases that left the window: the stack forgot them, mirrors/archive/ still records
        # them (artifact_mirrors/archive.py), so they are checked as if the stack did.
        raw = archive.merged_outputs(
            raw, archive.load_archive(archive.archive_dir(display(releases_dir)))
        )
        deployed = verify_cmd.parse_outputs(raw, where)

        findings: list[Finding] = []
        expected: list[ExpectedAmi] = []
        tags: list[verify_images.ExpectedTag] = []
        signatures: list[verify_images.SignatureReport] = []
        objects: list[verify_providers.ExpectedObject] = []
        if not images_only and not amis_only:
            # Shape problems of the outputs' provider records are exit 2 before any call.
            objects, notes = verify_providers.provider_expectations(project, raw, where)
            findings += notes
        if not amis_only and not providers_only:
            # Images first: a bad outputs shape is exit 2 before any AWS call.
            tags, notes = verify_images.image_expectations(project, raw, where)
            findings += notes
            with verify_images.RegistryPool(project) as pool:
                findings += verify_images.verify_image_tags(
                    tags, pool, deep=deep, signatures=signatures
                )
        if not images_only and not providers_only:
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

        if objects:

            def s3_for(region: str, profile: str | None) -> S3Client:
                return AwsClients("aws", region, profile).s3()

            findings += verify_providers.verify_provider_objects(objects, s3_for, deep=deep)

        # Name what was checked: an AMI-only stack reads "8 AMIs verified" as before.
        others = bool(tags or objects)
        amis_checked = (
            None if images_only or providers_only or (others and not expected) else len(expected)
        )
        tags_checked = (
            None
            if amis_only or providers_only or ((expected or objects) and not tags)
            else len(tags)
        )
        objects_checked = len(objects) if objects or providers_only else None
        if fmt is Format.json:
            sys.stdout.write(
                verify_cmd.to_json(
                    stack, findings, len(expected), len(tags), len(objects), signatures
                )
            )
        elif fmt is Format.markdown:
            sys.stdout.write(
                findings_markdown(findings, amis_checked, tags_checked, objects_checked)
            )
            if signatures:
                sys.stdout.write(verify_images.signatures_markdown(signatures))
        else:
            console = stdout_console()
            console.print(findings_table(findings, amis_checked, tags_checked, objects_checked))
            if signatures:
                console.print(verify_images.signatures_table(signatures))
    if verify_cmd.has_errors(findings):
        raise typer.Exit(OperationFailedError.exit_code)


def register(app: typer.Typer) -> None:
    app.command("verify", help=VERIFY_HELP, cls=Command)(verify_command)
