"""AWS partitions and the regions AMIs are mirrored to, with validation helpers.

`CopyImage` works only inside a partition, so the partition of every region decides how an AMI
gets there: `aws.ec2.AmiCopy` inside `aws`, store -> S3 -> restore into `aws-us-gov`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from artifact_mirrors.aws.errors import InvalidRegionError
from artifact_mirrors.regions import DEFAULT_COMMERCIAL_REGIONS
from artifact_mirrors.regions import GOVCLOUD_REGIONS as _GOVCLOUD_REGIONS

COMMERCIAL: str = "aws"
GOVCLOUD: str = "aws-us-gov"

# One list of regions for the whole project (the spec loader uses the same module).
COMMERCIAL_REGIONS: tuple[str, ...] = DEFAULT_COMMERCIAL_REGIONS
GOVCLOUD_REGIONS: tuple[str, ...] = _GOVCLOUD_REGIONS

PARTITION_REGIONS: dict[str, tuple[str, ...]] = {
    COMMERCIAL: COMMERCIAL_REGIONS,
    GOVCLOUD: GOVCLOUD_REGIONS,
}

_ACCOUNT_RE = re.compile(r"^\d{12}$")
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html
_ORG_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws|aws-us-gov):organizations::\d{12}:organization/o-[a-z0-9]{10,32}$"
)
_OU_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws|aws-us-gov):organizations::\d{12}:"
    r"ou/o-[a-z0-9]{10,32}/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$"
)


def _known_regions() -> str:
    return (
        f"one of the {len(COMMERCIAL_REGIONS)} commercial regions ({', '.join(COMMERCIAL_REGIONS)})"
        f" or GovCloud ({', '.join(GOVCLOUD_REGIONS)})"
    )


def validate_partition(partition: str) -> str:
    """Return `partition` if it is one we mirror to, else raise InvalidRegionError."""
    if partition not in PARTITION_REGIONS:
        raise InvalidRegionError(
            f"unknown AWS partition {partition!r}: expected {COMMERCIAL!r} or {GOVCLOUD!r}"
        )
    return partition


def partition_of(region: str) -> str:
    """The partition (`aws` or `aws-us-gov`) of a region we mirror to."""
    for partition, regions in PARTITION_REGIONS.items():
        if region in regions:
            return partition
    raise InvalidRegionError(f"unknown AWS region {region!r}: expected {_known_regions()}")


def validate_region(region: str, partition: str | None = None) -> str:
    """Return `region` if it is known and (when given) belongs to `partition`."""
    actual = partition_of(region)
    if partition is not None and validate_partition(partition) != actual:
        raise InvalidRegionError(
            f"region {region!r} is in partition {actual!r}, not {partition!r}"
            f" (GovCloud regions need their own account and credentials)"
        )
    return region


def validate_regions(regions: Iterable[str], partition: str | None = None) -> list[str]:
    """Validate every region and reject duplicates; returns them in the given order."""
    seen: set[str] = set()
    out: list[str] = []
    for region in regions:
        validate_region(region, partition)
        if region in seen:
            raise InvalidRegionError(f"region {region!r} is listed twice")
        seen.add(region)
        out.append(region)
    return out


def arn_prefix(partition: str) -> str:
    """`arn:aws` or `arn:aws-us-gov`."""
    return f"arn:{validate_partition(partition)}"


def validate_account_id(account_id: str) -> str:
    """An AWS account id is exactly 12 digits (keep leading zeros: it is a string)."""
    if not _ACCOUNT_RE.match(account_id):
        raise InvalidRegionError(f"invalid AWS account id {account_id!r}: expected 12 digits")
    return account_id


def validate_org_arn(arn: str, partition: str) -> str:
    """An organization ARN usable in a launch permission of an AMI in `partition`."""
    match = _ORG_ARN_RE.match(arn)
    if not match:
        raise InvalidRegionError(
            f"invalid organization ARN {arn!r}: expected "
            f"{arn_prefix(partition)}:organizations::<account>:organization/o-<id>"
        )
    if match.group("partition") != partition:
        raise InvalidRegionError(
            f"organization ARN {arn!r} is in partition {match.group('partition')!r},"
            f" but the AMI is in {partition!r}"
        )
    return arn


def validate_ou_arn(arn: str, partition: str) -> str:
    """An organizational-unit ARN usable in a launch permission of an AMI in `partition`."""
    match = _OU_ARN_RE.match(arn)
    if not match:
        raise InvalidRegionError(
            f"invalid organizational unit ARN {arn!r}: expected "
            f"{arn_prefix(partition)}:organizations::<account>:ou/o-<id>/ou-<root>-<id>"
        )
    if match.group("partition") != partition:
        raise InvalidRegionError(
            f"organizational unit ARN {arn!r} is in partition {match.group('partition')!r},"
            f" but the AMI is in {partition!r}"
        )
    return arn
