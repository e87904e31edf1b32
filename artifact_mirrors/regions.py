"""AWS partitions and the regions this project mirrors AMIs to.

The 17 commercial regions are the ones enabled by default in every account (no opt-in), the set
Teleport publishes AMIs to today (../shared/data/teleport-inventory.yaml). Opt-in regions can be
listed explicitly once the account has enabled them.
"""

from __future__ import annotations

from typing import Final, Literal

Partition = Literal["aws", "aws-us-gov"]
PARTITIONS: Final[tuple[Partition, ...]] = ("aws", "aws-us-gov")

DEFAULT_COMMERCIAL_REGIONS: Final[tuple[str, ...]] = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)

# Opt-in commercial regions (https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html):
# allowed in the spec, never a default.
OPT_IN_COMMERCIAL_REGIONS: Final[tuple[str, ...]] = (
    "af-south-1",
    "ap-east-1",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-west-1",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
)

GOVCLOUD_REGIONS: Final[tuple[str, ...]] = ("us-gov-west-1", "us-gov-east-1")

REGIONS: Final[dict[Partition, tuple[str, ...]]] = {
    "aws": DEFAULT_COMMERCIAL_REGIONS + OPT_IN_COMMERCIAL_REGIONS,
    "aws-us-gov": GOVCLOUD_REGIONS,
}

# ECR Public's API lives only in us-east-1 (https://docs.aws.amazon.com/AmazonECR/latest/public/public-registries.html).
ECR_PUBLIC_API_REGION: Final = "us-east-1"


def partition_of(region: str) -> Partition | None:
    for partition, regions in REGIONS.items():
        if region in regions:
            return partition
    return None
