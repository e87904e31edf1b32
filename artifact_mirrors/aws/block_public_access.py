"""Image block public access preflight (GetImageBlockPublicAccessState).

When the account/region setting is `block-new-sharing`, ModifyImageAttribute Group=all fails, so
a release would end up public in some regions and private in others. We check it before `up`
(in preview) instead of failing half-way.
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/block-public-access-to-amis.html
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from artifact_mirrors.aws.errors import PublicSharingBlockedError

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client


class BlockPublicAccessState(StrEnum):
    UNBLOCKED = "unblocked"
    BLOCK_NEW_SHARING = "block-new-sharing"


# ManagedBy value when an AWS Organizations declarative policy enforces the setting: the account
# cannot change it, only the organization's management account can.
DECLARATIVE_POLICY = "declarative-policy"


def get_block_public_access(ec2_client: EC2Client) -> tuple[BlockPublicAccessState, str]:
    """(state, managed_by) for the client's region."""
    resp = ec2_client.get_image_block_public_access_state()
    raw = resp.get("ImageBlockPublicAccessState", "")
    try:
        state = BlockPublicAccessState(raw)
    except ValueError:
        # An unknown value is treated as blocking: better a clear preflight error than a
        # half-published release.
        state = BlockPublicAccessState.BLOCK_NEW_SHARING
    return state, resp.get("ManagedBy", "account")


def check_block_public_access(ec2_client: EC2Client, region: str) -> BlockPublicAccessState:
    """The image block public access state of `region` (the client must be for that region)."""
    del region  # the client is bound to the region; the argument documents the call site
    return get_block_public_access(ec2_client)[0]


def public_sharing_blocked_message(region: str, managed_by: str = "account") -> str:
    """The error shown when an AMI must be public in `region` but sharing is blocked."""
    if managed_by == DECLARATIVE_POLICY:
        return (
            f"cannot make AMIs public in {region}: image block public access is"
            f" 'block-new-sharing' and is enforced by an AWS Organizations declarative policy."
            f" Fix: ask the organization's management account to allow public AMI sharing for"
            f" {region}, or make the mirror private (launch permissions for accounts/orgs only)"
        )
    return (
        f"cannot make AMIs public in {region}: image block public access is 'block-new-sharing'"
        f" for this account in {region}. Fix: run `aws ec2 disable-image-block-public-access"
        f" --region {region}`, or set `block_public_access: manage` on the partition in the spec"
        f" so the mirror turns it off in {region}"
    )


def ensure_public_sharing_allowed(ec2_client: EC2Client, region: str) -> None:
    """Raise PublicSharingBlockedError when public AMIs cannot be shared in `region`."""
    state, managed_by = get_block_public_access(ec2_client)
    if state is BlockPublicAccessState.BLOCK_NEW_SHARING:
        raise PublicSharingBlockedError(public_sharing_blocked_message(region, managed_by))
