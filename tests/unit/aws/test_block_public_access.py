from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import Stubber

from artifact_mirrors.aws.block_public_access import (
    BlockPublicAccessState,
    check_block_public_access,
    ensure_public_sharing_allowed,
)
from artifact_mirrors.aws.errors import PublicSharingBlockedError

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client


def _client(region: str) -> EC2Client:
    # moto has no GetImageBlockPublicAccessState: a Stubber answers, so no network is used.
    return boto3.client(
        "ec2", region_name=region, aws_access_key_id="AKIATEST", aws_secret_access_key="unused"
    )


def test_unblocked() -> None:
    client = _client("eu-west-1")
    with Stubber(client) as stub:
        stub.add_response(
            "get_image_block_public_access_state",
            {"ImageBlockPublicAccessState": "unblocked", "ManagedBy": "account"},
            {},
        )
        assert check_block_public_access(client, "eu-west-1") is BlockPublicAccessState.UNBLOCKED


def test_block_new_sharing_message_says_region_and_fix() -> None:
    client = _client("us-east-2")
    with Stubber(client) as stub:
        stub.add_response(
            "get_image_block_public_access_state",
            {"ImageBlockPublicAccessState": "block-new-sharing", "ManagedBy": "account"},
            {},
        )
        with pytest.raises(PublicSharingBlockedError) as err:
            ensure_public_sharing_allowed(client, "us-east-2")

    assert str(err.value) == (
        "cannot make AMIs public in us-east-2: image block public access is 'block-new-sharing'"
        " for this account in us-east-2. Fix: run `aws ec2 disable-image-block-public-access"
        " --region us-east-2`, or set `block_public_access: manage` on the partition in the spec"
        " so the mirror turns it off in us-east-2"
    )


def test_declarative_policy_needs_the_organization() -> None:
    client = _client("us-gov-west-1")
    with Stubber(client) as stub:
        stub.add_response(
            "get_image_block_public_access_state",
            {"ImageBlockPublicAccessState": "block-new-sharing", "ManagedBy": "declarative-policy"},
            {},
        )
        with pytest.raises(PublicSharingBlockedError) as err:
            ensure_public_sharing_allowed(client, "us-gov-west-1")

    assert str(err.value) == (
        "cannot make AMIs public in us-gov-west-1: image block public access is"
        " 'block-new-sharing' and is enforced by an AWS Organizations declarative policy."
        " Fix: ask the organization's management account to allow public AMI sharing for"
        " us-gov-west-1, or make the mirror private (launch permissions for accounts/orgs only)"
    )


def test_unknown_state_is_treated_as_blocking() -> None:
    client = _client("eu-west-1")
    with Stubber(client) as stub:
        stub.add_response(
            "get_image_block_public_access_state", {"ImageBlockPublicAccessState": "future"}, {}
        )
        state = check_block_public_access(client, "eu-west-1")
    assert state is BlockPublicAccessState.BLOCK_NEW_SHARING
