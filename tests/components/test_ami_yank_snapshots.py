"""A yank revokes root-snapshot sharing too, and verify expects none afterwards (issue 7.2)."""

from __future__ import annotations

from pathlib import Path

from artifact_mirrors.aws import LaunchPermissions
from artifact_mirrors.spec.load import load_project
from artifact_mirrors.verify_cmd import DeployedAmi, DeployedRelease, expectations
from components.mockrun import render
from tests.components.test_ami_options import use_private_aws_partition
from tests.conftest import edit

T_COPY = "aws:ec2/amiCopy:AmiCopy"
T_SNAP = "aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission"
T_SNAP_REVOKE = "pulumi-python:dynamic/artifact-mirrors:SnapshotPermissionRevocation"
PARTNER = "111122223333"


def yank_16_4_6(project: Path) -> None:
    edit(project / "mirrors/releases/16.4.6.yaml", "channel: stable",
         "channel: stable\nyanked: true\nreason: bad build")  # fmt: skip


def test_yank_replaces_each_snapshot_grant_with_a_revocation(project: Path) -> None:
    use_private_aws_partition(project)
    before = render(project, "prod")
    granted = {r.name for r in before if r.type == T_SNAP and r.name.startswith("16.4.6/")}
    assert len(granted) == 2 * 3  # 2 AMIs x 3 regions x 1 account
    yank_16_4_6(project)
    after = render(project, "prod")
    assert not [r for r in after if r.type == T_SNAP and r.name.startswith("16.4.6/")]
    revocations = [r for r in after if r.type == T_SNAP_REVOKE]
    assert {r.name.replace("/snapshot/revoke/", "/snapshot/") for r in revocations} == granted
    copies = {r.name: r for r in after if r.type == T_COPY}
    sample = next(r for r in revocations if r.name.startswith("16.4.6/oss-arm64@eu-west-1/"))
    assert sample.name == f"16.4.6/oss-arm64@eu-west-1/snapshot/revoke/account_id={PARTNER}"
    assert sample.inputs == {
        "release": "16.4.6",
        "partition": "aws",
        "region": "eu-west-1",
        "profile": "teleport-mirrors",
        "image_id": copies["16.4.6/oss-arm64@eu-west-1"].id,
        "account": PARTNER,
    }
    assert not sample.retain_on_delete  # a record: deleting it (un-yank) touches nothing
    # Other releases keep their grants.
    assert len([r for r in after if r.type == T_SNAP]) == len(
        [r for r in before if r.type == T_SNAP]
    ) - len(granted)


def test_verify_expects_the_snapshot_accounts_until_yanked(project: Path) -> None:
    use_private_aws_partition(project)
    deployed = {
        "16.4.6": DeployedRelease(
            "16.4.6",
            False,
            (
                DeployedAmi("aws", "eu-west-1", "oss-arm64", "ami-0aaaaaaaaaaaaaaa1"),
                DeployedAmi("aws-us-gov", "us-gov-east-1", "oss-arm64", "ami-0aaaaaaaaaaaaaaa2"),
            ),
        )
    }

    def snapshot_expectations() -> list[tuple[str, LaunchPermissions | None]]:
        proj = load_project(project / "mirrors/destinations.yaml", project / "mirrors/releases")
        exps, _ = expectations(proj, deployed)
        return [(e.region, e.snapshot_permissions) for e in exps]

    # GovCloud has no snapshot_create_volume: its snapshots must not be shared with anyone.
    assert snapshot_expectations() == [
        ("eu-west-1", LaunchPermissions(accounts=frozenset({PARTNER}))),
        ("us-gov-east-1", LaunchPermissions()),
    ]
    yank_16_4_6(project)
    assert snapshot_expectations() == [
        ("eu-west-1", LaunchPermissions()),
        ("us-gov-east-1", LaunchPermissions()),
    ]
