"""`mirrors verify` against a real moto_server: mirrors made with the tags and launch permissions
the Pulumi layer sets, then drifted the ways that happen in practice."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_mirrors.aws.launch_permissions import grant_launch_permissions
from artifact_mirrors.aws.session import AwsClients
from artifact_mirrors.cli import app
from artifact_mirrors.mirror_tags import mirror_tags
from artifact_mirrors.spec.load import load_project
from artifact_mirrors.spec.model import Release, TagNames
from tests.integration.aws.helpers import make_image
from tests.integration.cli.conftest import COMMERCIAL_REGIONS, GOVCLOUD_REGIONS, RELEASES, SPEC

pytestmark = pytest.mark.moto

OSS_SOURCE = "ami-0123456789abcdef0"
FIPS_SOURCE = "ami-0fedcba9876543210"
MANIFEST = f"""\
version: 17.0.1
channel: stable
amis:
  - id: {OSS_SOURCE}
    name: teleport-oss-17.0.1-x86_64-20250101-120000UTC
    region: us-west-2
    arch: x86_64
    edition: oss
  - id: {FIPS_SOURCE}
    name: teleport-ent-17.0.1-arm64-fips-20250101-120000UTC
    region: us-west-2
    arch: arm64
    edition: ent
    fips: true
"""
YANKED = "yanked: true\nreason: CVE-2026-0001 in the bundled OpenSSL\n"
REGIONS = [("aws", r) for r in COMMERCIAL_REGIONS] + [("aws-us-gov", r) for r in GOVCLOUD_REGIONS]
HEADER = [
    "",
    "| severity | kind | release | key | where | mirror | check | expected | actual |",
    "|---|---|---|---|---|---|---|---|---|",
]

# (partition, region, key) -> (mirror image id, clients)
Mirrors = dict[tuple[str, str, str], tuple[str, AwsClients]]
Tweak = Callable[[tuple[str, str, str], dict[str, str]], bool]


def clients(partition: str, region: str) -> AwsClients:
    return AwsClients(partition, region, "govcloud" if partition == "aws-us-gov" else "commercial")


def mirror_release(
    project: Path, *, yanked: bool = False, tweak: Tweak = lambda _k, _t: True
) -> Mirrors:
    """Write the manifest, then make every mirror as `pulumi up` would: with the mirror tags,
    and public. `tweak(key, tags)` may edit a mirror's tags and returns whether to make it
    public (False: left private)."""
    (project / RELEASES / "17.0.1.yaml").write_text(
        MANIFEST + (YANKED if yanked else ""), encoding="utf-8"
    )
    release = load_project(SPEC, RELEASES).release("17.0.1")
    assert release is not None
    names = tag_names()
    out: Mirrors = {}
    for partition, region in REGIONS:
        c = clients(partition, region)
        for ami in release.amis:
            key = (partition, region, ami.key)
            tags = mirror_tags(release, ami, names)
            make_public = tweak(key, tags)
            image = make_image(c.ec2(), real_arch=ami.arch, tags=tags)
            if make_public:
                grant_launch_permissions(c.ec2(), image, public=True)
            out[key] = (image, c)
    write_outputs(project, release, out)
    return out


def tag_names() -> TagNames:
    spec = load_project(SPEC, RELEASES).spec
    assert spec.amis is not None
    return spec.amis.tags


def write_outputs(project: Path, release: Release, mirrors: Mirrors) -> None:
    """What `pulumi stack output --json` prints (components/release.py `audit`)."""
    outputs = {
        "releases": {
            release.name: {
                "channel": release.channel,
                "yanked": release.yanked,
                "reason": release.reason,
                "images": {},
                "amis": {"/".join(k): image for k, (image, _) in mirrors.items()},
            }
        }
    }
    (project / "outputs.json").write_text(json.dumps(outputs), encoding="utf-8")


def verify(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["verify", "--stack", "prod", "--outputs", "outputs.json", *args])
    return result.exit_code, result.stdout, result.stderr


def test_clean_mirror_passes(aws_project: Path, runner: CliRunner) -> None:
    mirror_release(aws_project)

    code, out, err = verify(runner, "--format", "markdown")

    assert (code, out, err) == (0, "**8 AMIs verified: no drift**\n", "")


def test_ami_left_private_is_drift(aws_project: Path, runner: CliRunner) -> None:
    # teleport#4350: the us-east-1 AMIs were copied but never made public.
    mirrors = mirror_release(
        aws_project, tweak=lambda key, _tags: key != ("aws", "us-east-1", "oss-x86_64")
    )
    image, _ = mirrors[("aws", "us-east-1", "oss-x86_64")]

    code, out, err = verify(runner, "--format", "markdown")

    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "**8 AMIs verified: 1 error(s), 0 warning(s)**",
        *HEADER,
        f"| error | ami | 17.0.1 | oss-x86_64 | us-east-1 | {image} | launch-permissions | public"
        " | missing public |",
    ]


def test_ami_left_private_in_the_table(aws_project: Path, runner: CliRunner) -> None:
    mirrors = mirror_release(
        aws_project, tweak=lambda key, _tags: key != ("aws", "us-east-1", "oss-x86_64")
    )
    image, _ = mirrors[("aws", "us-east-1", "oss-x86_64")]

    code, out, _ = verify(runner)

    assert code == 1
    assert "8 AMIs verified: 1 error(s), 0 warning(s)" in out
    row = next(line for line in out.splitlines() if image in line)
    assert [c.strip() for c in row.strip("│ ").split("│")] == [
        "error",
        "ami",
        "17.0.1",
        "oss-x86_64",
        "us-east-1",
        image,
        "launch-permissions",
        "public",
        "missing public",
    ]


def test_missing_mirror_tag_is_drift(aws_project: Path, runner: CliRunner) -> None:
    def drop_mirror_of(key: tuple[str, str, str], tags: dict[str, str]) -> bool:
        if key == ("aws-us-gov", "us-gov-west-1", "ent-fips-arm64"):
            del tags["mirror-of"]
        return True

    mirrors = mirror_release(aws_project, tweak=drop_mirror_of)
    image, _ = mirrors[("aws-us-gov", "us-gov-west-1", "ent-fips-arm64")]

    code, out, _ = verify(runner, "--format", "json")

    assert code == 1
    assert json.loads(out) == {
        "schema": "artifact-mirrors/verify/v1",
        "stack": "prod",
        "checked": 8,
        "images_checked": 0,
        "provider_objects_checked": 0,
        "errors": 1,
        "warnings": 0,
        "findings": [
            {
                "severity": "error",
                "release": "17.0.1",
                "key": "ent-fips-arm64",
                "region": "us-gov-west-1",
                "image_id": image,
                "check": "tags",
                "expected": f"mirror-of={FIPS_SOURCE}@us-west-2",
                "actual": "mirror-of missing",
                "kind": "ami",
            }
        ],
    }


def test_yanked_release_still_public_is_drift(aws_project: Path, runner: CliRunner) -> None:
    # The yank revoked every grant except one (e.g. the revocation failed in us-gov-east-1).
    still_public = ("aws-us-gov", "us-gov-east-1", "oss-x86_64")
    mirrors = mirror_release(aws_project, yanked=True, tweak=lambda key, _t: key == still_public)
    image, _ = mirrors[still_public]

    code, out, _ = verify(runner, "--format", "markdown")

    assert code == 1
    assert out.splitlines() == [
        "**8 AMIs verified: 1 error(s), 0 warning(s)**",
        *HEADER,
        f"| error | ami | 17.0.1 | oss-x86_64 | us-gov-east-1 | {image} | launch-permissions"
        " | private | unexpected public |",
    ]


def test_mirror_missing_from_outputs_is_a_warning(aws_project: Path, runner: CliRunner) -> None:
    mirrors = mirror_release(aws_project)
    del mirrors[("aws", "us-west-2", "oss-x86_64")]
    release = load_project(SPEC, RELEASES).release("17.0.1")
    assert release is not None
    write_outputs(aws_project, release, mirrors)

    code, out, _ = verify(runner, "--format", "markdown")

    assert code == 0
    assert out.splitlines() == [
        "**7 AMIs verified: 0 error(s), 1 warning(s)**",
        *HEADER,
        "| warning | ami | 17.0.1 | oss-x86_64 | us-west-2 | - | deployed | in stack outputs (aws)"
        " | not deployed: run pulumi preview |",
    ]


def test_without_pulumi_cli_hints_at_outputs(
    aws_project: Path, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    result = runner.invoke(app, ["verify", "--stack", "prod"])

    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "--stack: cannot read the stack outputs: the pulumi CLI is not on PATH (got prod). Hint:"
        " pass --outputs FILE, the output of `pulumi stack output --json -s prod`\n"
    )


def test_outputs_with_a_region_in_the_wrong_partition(aws_project: Path, runner: CliRunner) -> None:
    (aws_project / "outputs.json").write_text(
        json.dumps({"releases": {"17.0.1": {"amis": {"aws/us-gov-west-1/oss-x86_64": "ami-1"}}}}),
        encoding="utf-8",
    )

    code, out, err = verify(runner)

    assert (code, out) == (2, "")
    assert err == (
        "outputs.json: releases.17.0.1.amis.aws/us-gov-west-1/oss-x86_64: region us-gov-west-1"
        " is not in partition aws (got aws/us-gov-west-1/oss-x86_64). Hint: keys read"
        " PARTITION/REGION/EDITION, e.g. aws-us-gov/us-gov-west-1/oss-x86_64\n"
    )


def test_outputs_file_not_found(aws_project: Path, runner: CliRunner) -> None:
    code, out, err = verify(runner)

    assert (code, out) == (2, "")
    assert err == (
        "outputs.json: file not found (got outputs.json). Hint: pass --outputs FILE, the output"
        " of `pulumi stack output --json -s NAME`\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "--stack", "qa", "--outputs", "outputs.json"],
        ["plan", "--stack", "qa"],
        ["archive", "--stack", "qa", "--outputs", "outputs.json"],
    ],
)
def test_unknown_stack(aws_project: Path, runner: CliRunner, args: list[str]) -> None:
    """Every command that takes --stack names the missing file and the stacks that exist."""
    result = runner.invoke(app, args)

    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "stacks/Pulumi.qa.yaml: stack not found (got qa). Hint: stacks here: prod, staging\n"
    )


def test_reads_outputs_through_the_pulumi_cli(
    aws_project: Path, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror_release(aws_project)
    # A stand-in `pulumi` executable: the real CLI needs a backend login; what matters here is
    # the command line verify runs and that it reads what the CLI prints.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    args_file = tmp_path / "args"
    script = bin_dir / "pulumi"
    script.write_text(
        f'#!/bin/sh\necho "$@" > {args_file}\nexec /bin/cat {aws_project / "outputs.json"}\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))

    result = runner.invoke(app, ["verify", "--stack", "prod", "--format", "markdown"])

    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "**8 AMIs verified: no drift**\n",
        "",
    )
    assert args_file.read_text().split() == [
        "stack",
        "output",
        "--json",
        "--stack",
        "prod",
        "--non-interactive",
    ]


def test_release_without_manifest_checks_what_the_outputs_imply(
    aws_project: Path, runner: CliRunner
) -> None:
    # 17.0.2 was mirrored, then its manifest was deleted from the repository.
    c = clients("aws", "us-east-1")
    tags = {"TeleportVersion": "17.0.2", "mirror-release": "17.0.2", "mirror-edition": "oss-arm64"}
    image = make_image(c.ec2(), real_arch="arm64", tags=tags)
    grant_launch_permissions(c.ec2(), image, public=True)
    (aws_project / "outputs.json").write_text(
        json.dumps({"releases": {"17.0.2": {"amis": {"aws/us-east-1/oss-arm64": image}}}}),
        encoding="utf-8",
    )

    code, out, _ = verify(runner, "--format", "markdown")

    assert code == 0
    assert out.splitlines() == [
        "**1 AMIs verified: 0 error(s), 1 warning(s)**",
        *HEADER,
        "| warning | ami | 17.0.2 | - | - | - | manifest | manifest for 17.0.2 | missing: only"
        " release and edition tags checked |",
    ]
