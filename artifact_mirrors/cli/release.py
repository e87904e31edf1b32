"""`mirrors release add`: resolve a release in the first-party sources, write its manifest.

Exit codes: 0 ok, 1 a tag or an AMI cannot be resolved, 2 bad input. Every failure is one line on
stderr (or one located line per problem), never a traceback.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from artifact_mirrors.cli.common import (
    Command,
    Group,
    ProjectDirOpt,
    command,
    display,
    project_root,
    stdout_console,
)
from artifact_mirrors.command_errors import BadInputError, located

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from artifact_mirrors.aws import ResolvedAmi
    from artifact_mirrors.spec.model import ReleaseChart, ReleaseProvider

# boto3 (~0.1 s) and the AWS library are imported inside the command, so `mirrors validate`
# and `mirrors plan` do not pay for them.

release_app = typer.Typer(
    name="release",
    help="Pin releases: resolve them in the first-party sources into mirrors/releases/.",
    no_args_is_help=True,
    cls=Group,
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
    "\n\n"
    "Terraform providers: each platform's package from the source registry (Provider Registry"
    " Protocol); the .sums signature is verified with gpgv against the source's published key"
    " before anything is pinned. Exit 1 when the version or a platform is missing at the source"
    " or a signature does not verify; nothing is written."
)


@release_app.command("add", help=RELEASE_ADD_HELP, cls=Command)
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

    with command():
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
        if any(im.verify is not None for im in the_spec.images.values()):
            # At the source, also for --from-json: a pinned digest is what gets published.
            images = release_add.check_signatures(
                the_spec, images, release_add.default_signature_checker()
            )
        providers: tuple[ReleaseProvider, ...] = ()
        if the_spec.terraform_providers:
            from artifact_mirrors.terraform.resolve import resolve_all

            # Each signature is verified against the source's published key before pinning.
            providers = resolve_all(the_spec, version, lambda line: typer.echo(line, err=True))
        charts: tuple[ReleaseChart, ...] = ()
        if the_spec.charts:
            from artifact_mirrors.charts.resolve import resolve_all as resolve_charts

            # Each .tgz must hash to its index.yaml digest and be the chart the index names;
            # with a keyring its .prov must verify (artifact_mirrors/charts/provenance.py).
            charts = resolve_charts(the_spec, version)
        resolved = release_add.ResolvedRelease(version, channel, images, amis, providers, charts)
        text = release_add.render_manifest(
            resolved,
            release_add.Provenance(
                user=release_add.current_user(),
                when=datetime.now(UTC),
                images_how=images_how,
                amis_how=amis_how,
                charts_how="each .tgz read from its index.yaml entry and checked against the "
                "entry's digest; the OCI manifest digest built from it"
                + (
                    "; each .prov of a chart with a keyring verified with gpgv, its sha256 "
                    "the .tgz's"
                    if any(c.keyring_data for c in the_spec.charts.values())
                    else ""
                )
                if charts
                else "",
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
            f"wrote {target}: {len(images)} images, {len(amis)} AMIs"
            + (f", {len(providers)} Terraform providers" if providers else "")
            + (f", {len(charts)} Helm charts" if charts else "")
            + ". "
            + review_hint(root, spec_file, releases_dir, version),
            markup=False,
            soft_wrap=True,
        )


def review_hint(root: Path, spec_file: Path, releases_dir: Path, version: str) -> str:
    """The `mirrors plan` to run next, for the stack whose config names this spec and releases
    directory (several: the first, and the others named; none: the project's stacks)."""
    from artifact_mirrors import verify_cmd

    stacks = sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in (root / "stacks").glob("Pulumi.*.yaml")
    )
    wanted = (spec_file.resolve(), releases_dir.resolve())
    using = []
    for name in stacks:
        try:
            spec, releases = verify_cmd.stack_paths(root, name, Path(name))
        except BadInputError:
            continue  # a stack file `mirrors plan` would reject says so itself
        if (spec.resolve(), releases.resolve()) == wanted:
            using.append(name)
    command = "`mirrors plan --stack {} --release " + version + " --format markdown`"
    if using:
        also = f" (also stacks {', '.join(using[1:])})" if len(using) > 1 else ""
        return f"Review with {command.format(using[0])}{also}"
    return (
        f"Review with {command.format('NAME')}: no stack in stacks/ uses {spec_file} and "
        f"{releases_dir} (stacks here: {', '.join(stacks) or 'none'})"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(release_app, name="release")
