"""Verify mirrored AMIs: they exist, are available, are shared exactly as declared (launch
permissions, and createVolumePermission on the root snapshot), carry the mirror tags and are not
(about to be) deprecated. Used by `mirrors verify`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from artifact_mirrors.aws.launch_permissions import describe_launch_permissions
from artifact_mirrors.aws.resolve import tags_of
from artifact_mirrors.aws.snapshot_permissions import (
    describe_create_volume_permissions,
    root_snapshot_of,
)
from artifact_mirrors.aws.types import ExpectedAmi, Finding, LaunchPermissions, Severity

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import ImageTypeDef

ClientsForRegion = Callable[[str, str], "EC2Client"]
"""(partition, region) -> an EC2 client for that region with that partition's credentials."""

CHECK_EXISTS = "exists"
CHECK_STATE = "state"
CHECK_LAUNCH = "launch-permissions"
CHECK_TAGS = "tags"
CHECK_DEPRECATION = "deprecation"
CHECK_SNAPSHOT = "snapshot-permissions"


def _finding(
    exp: ExpectedAmi, severity: Severity, check: str, expected: str, actual: str
) -> Finding:
    return Finding(
        severity, exp.release, exp.key, exp.region, exp.image_id, check, expected, actual
    )


def parse_aws_time(value: str) -> datetime:
    """EC2 returns DeprecationTime as ISO 8601 with a `Z` (e.g. `2026-01-01T00:00:00.000Z`)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def check_deprecation(
    exp: ExpectedAmi, image: ImageTypeDef, now: datetime, warn_before: timedelta
) -> Finding | None:
    """Error when DeprecationTime has passed, warning when it falls within `warn_before`.

    Pure (takes the DescribeImages result) because moto does not implement deprecation.
    """
    raw = image.get("DeprecationTime")
    if not raw:
        return None
    when = parse_aws_time(raw)
    if when <= now:
        return _finding(
            exp, Severity.ERROR, CHECK_DEPRECATION, "not deprecated", f"deprecated since {raw}"
        )
    if when - now <= warn_before:
        return _finding(
            exp,
            Severity.WARNING,
            CHECK_DEPRECATION,
            f"not deprecated within {warn_before.days}d",
            f"deprecates at {raw}",
        )
    return None


def check_tags(exp: ExpectedAmi, image: ImageTypeDef) -> list[Finding]:
    actual = tags_of(image)
    findings: list[Finding] = []
    for key, value in sorted(exp.tags.items()):
        if actual.get(key) != value:
            findings.append(
                _finding(
                    exp,
                    Severity.ERROR,
                    CHECK_TAGS,
                    f"{key}={value}",
                    f"{key}={actual[key]}" if key in actual else f"{key} missing",
                )
            )
    return findings


def check_launch_permissions(
    exp: ExpectedAmi, actual: LaunchPermissions, image: ImageTypeDef
) -> list[Finding]:
    """Missing permissions and unexpected extra permissions are both drift (errors)."""
    findings: list[Finding] = []
    wanted = exp.launch_permissions
    # `Public` on the image is what users see; the attribute is what the owner granted. Both
    # must agree with the spec (teleport#4350: AMIs left private in us-east-1/2).
    really_public = actual.public or bool(image.get("Public"))
    observed = LaunchPermissions(really_public, actual.accounts, actual.orgs, actual.ous)
    missing = wanted.minus(observed)
    extra = observed.minus(wanted)
    if not missing.empty:
        findings.append(
            _finding(
                exp,
                Severity.ERROR,
                CHECK_LAUNCH,
                wanted.describe(),
                f"missing {missing.describe()}",
            )
        )
    if not extra.empty:
        findings.append(
            _finding(
                exp,
                Severity.ERROR,
                CHECK_LAUNCH,
                wanted.describe(),
                f"unexpected {extra.describe()}",
            )
        )
    return findings


def check_snapshot_permissions(
    exp: ExpectedAmi, snapshot: str | None, actual: LaunchPermissions | None
) -> list[Finding]:
    """The root snapshot is shared with exactly the declared accounts (none once yanked).

    A yank that left the snapshot shared is drift even though the AMI itself is private: the
    accounts can still create volumes from it.
    """
    wanted = exp.snapshot_permissions
    if wanted is None:
        return []
    if snapshot is None or actual is None:
        if wanted.empty:
            return []
        return [
            _finding(exp, Severity.ERROR, CHECK_SNAPSHOT, wanted.describe(), "no EBS root snapshot")
        ]
    findings: list[Finding] = []
    for word, diff in (("missing", wanted.minus(actual)), ("unexpected", actual.minus(wanted))):
        if not diff.empty:
            findings.append(
                _finding(
                    exp,
                    Severity.ERROR,
                    CHECK_SNAPSHOT,
                    wanted.describe(),
                    f"{snapshot}: {word} {diff.describe()}",
                )
            )
    return findings


def _describe_many(ec2_client: EC2Client, image_ids: list[str]) -> dict[str, ImageTypeDef]:
    # A filter (not ImageIds=) so that one missing image does not fail the whole call with
    # InvalidAMIID.NotFound; the missing one is simply absent from the result.
    found: dict[str, ImageTypeDef] = {}
    paginator = ec2_client.get_paginator("describe_images")
    for page in paginator.paginate(
        Filters=[{"Name": "image-id", "Values": image_ids}], IncludeDeprecated=True
    ):
        for image in page.get("Images", []):
            found[image.get("ImageId", "")] = image
    return found


def verify_image(
    exp: ExpectedAmi,
    image: ImageTypeDef | None,
    permissions: LaunchPermissions | None,
    now: datetime,
    warn_before: timedelta,
) -> list[Finding]:
    """All checks of one AMI from already-fetched data (pure)."""
    if image is None:
        return [_finding(exp, Severity.ERROR, CHECK_EXISTS, "exists", "not found")]
    findings: list[Finding] = []
    state = image.get("State", "")
    if state != "available":
        reason = image.get("StateReason", {}).get("Message", "")
        findings.append(
            _finding(exp, Severity.ERROR, CHECK_STATE, "available", f"{state} {reason}".strip())
        )
    if permissions is not None:
        findings += check_launch_permissions(exp, permissions, image)
    findings += check_tags(exp, image)
    deprecation = check_deprecation(exp, image, now, warn_before)
    if deprecation is not None:
        findings.append(deprecation)
    return findings


def verify_mirrored_amis(
    expected: Iterable[ExpectedAmi],
    clients_for_region: ClientsForRegion,
    now: datetime,
    warn_before: timedelta,
) -> list[Finding]:
    """Check every expected AMI; returns findings (empty when everything matches).

    One DescribeImages per region plus one DescribeImageAttribute per existing AMI (and one
    DescribeSnapshotAttribute when its snapshot sharing is checked).
    """
    by_region: Mapping[tuple[str, str], list[ExpectedAmi]] = defaultdict(list)
    for exp in expected:
        by_region[(exp.partition, exp.region)].append(exp)
    findings: list[Finding] = []
    for (partition, region), exps in sorted(by_region.items()):
        ec2_client = clients_for_region(partition, region)
        images = _describe_many(ec2_client, sorted({e.image_id for e in exps}))
        for exp in exps:
            image = images.get(exp.image_id)
            perms = describe_launch_permissions(ec2_client, exp.image_id) if image else None
            findings += verify_image(exp, image, perms, now, warn_before)
            if image is not None and exp.snapshot_permissions is not None:
                # One DescribeSnapshotAttribute more per AMI whose snapshot sharing is checked.
                snapshot = root_snapshot_of(image)
                shared = (
                    describe_create_volume_permissions(ec2_client, snapshot) if snapshot else None
                )
                findings += check_snapshot_permissions(exp, snapshot, shared)
    return findings
