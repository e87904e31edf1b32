"""AmiMirror options: every launch permission kind, KMS per region, deprecation, BPA, snapshots."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from components.mockrun import render
from tests.conftest import edit

T_COPY = "aws:ec2/amiCopy:AmiCopy"
T_LP = "aws:ec2/amiLaunchPermission:AmiLaunchPermission"
T_BPA = "aws:ec2/imageBlockPublicAccess:ImageBlockPublicAccess"
T_SNAP = "aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission"
T_PROVIDER = "pulumi:providers:aws"

PRIVATE_AWS = """    aws:
      profile: teleport-mirrors
      account: "210987654321"
      regions: [us-east-1, eu-west-1, us-west-2]
      launch_permissions:
        accounts: ["111122223333"]
        organizations: ["arn:aws:organizations::111122223333:organization/o-abcdefghij"]
        organizational_units:
          - "arn:aws:organizations::111122223333:ou/o-abcdefghij/ou-ab12-cdef3456"
        snapshot_create_volume: true
      encrypted: true
      kms_keys:
        eu-west-1: arn:aws:kms:eu-west-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab
      deprecate_at: 2030-01-01
      copy_timeout_minutes: 240
"""


def use_private_aws_partition(project: Path) -> None:
    spec = project / "mirrors/destinations.yaml"
    text = spec.read_text()
    start = text.index("    aws:\n      profile: teleport-mirrors")
    end = text.index("    aws-us-gov:")
    spec.write_text(text[:start] + PRIVATE_AWS + text[end:])


def test_every_permission_kind_kms_and_deprecation(project: Path) -> None:
    use_private_aws_partition(project)
    resources = render(project, "prod")
    providers = {r.urn: r for r in resources if r.type == T_PROVIDER}
    copies = [r for r in resources if r.type == T_COPY and r.name.startswith("16.4.6/oss-arm64@")]
    by_region = {providers[c.provider].inputs["region"]: c for c in copies}
    assert set(by_region) == {"us-east-1", "eu-west-1", "us-west-2", "us-gov-east-1"}
    eu, us = by_region["eu-west-1"], by_region["us-east-1"]
    assert eu.inputs["encrypted"] is True
    assert eu.inputs["kmsKeyId"].startswith("arn:aws:kms:eu-west-1:")
    assert "kmsKeyId" not in us.inputs  # no key for us-east-1: the account's default EBS key
    assert eu.inputs["deprecationTime"] == "2030-01-01T00:00:00Z"
    # Provider config travels as strings on the wire: lists are JSON-encoded.
    # The AMI partition's providers; ECR Public has its own (registry/ecr-public/aws, no account).
    commercial = [r for r in providers.values() if r.name.startswith("aws/")]
    assert {r.inputs.get("allowedAccountIds") for r in commercial} == {'["210987654321"]'}
    assert len(commercial) == 3

    perms = [r for r in resources if r.type == T_LP and r.name.startswith("16.4.6/oss-arm64@eu-")]
    kinds = sorted(k for r in perms for k in r.inputs if k != "imageId")
    assert kinds == ["accountId", "organizationArn", "organizationalUnitArn"]
    assert all(r.inputs["imageId"] == eu.id for r in perms)
    snaps = [r for r in resources if r.type == T_SNAP]
    assert Counter(r.inputs["accountId"] for r in snaps) == {"111122223333": 12 * 3}
    assert all(r.retain_on_delete for r in [*perms, *snaps])


def test_managed_block_public_access_is_one_resource_per_region(project: Path) -> None:
    edit(
        project / "mirrors/destinations.yaml",
        "      block_public_access: check  # fail in preview when a region blocks public sharing",
        "      block_public_access: manage",
    )
    resources = render(project, "prod")
    bpa = [r for r in resources if r.type == T_BPA]
    assert len(bpa) == 17
    assert {r.inputs["state"] for r in bpa} == {"unblocked"}
    assert all(r.retain_on_delete for r in bpa)
