from __future__ import annotations

import pytest

from artifact_mirrors.aws.launch_permissions import (
    describe_launch_permissions,
    grant_launch_permissions,
    revoke_launch_permissions,
)
from artifact_mirrors.aws.session import AwsClients
from artifact_mirrors.aws.types import LaunchPermissions
from tests.integration.aws.helpers import make_image

pytestmark = pytest.mark.moto

ORG = "arn:aws:organizations::210987654321:organization/o-abcdef1234"
OU = "arn:aws:organizations::210987654321:ou/o-abcdef1234/ou-ab12-cdefgh34"
GOV_ORG = "arn:aws-us-gov:organizations::210987654321:organization/o-govorg1234"


def test_grant_then_describe_then_revoke(commercial: AwsClients) -> None:
    ec2 = commercial.ec2()
    image = make_image(ec2, real_arch="arm64", tags={"Name": "mirror"})

    grant_launch_permissions(
        ec2, image, public=True, accounts=["111122223333", "444455556666"], orgs=[ORG], ous=[OU]
    )
    assert describe_launch_permissions(ec2, image) == LaunchPermissions(
        public=True,
        accounts=frozenset({"111122223333", "444455556666"}),
        orgs=frozenset({ORG}),
        ous=frozenset({OU}),
    )

    # Yank: revoke public and one account; "999988887777" was never granted.
    removed = revoke_launch_permissions(
        ec2, image, public=True, accounts=["111122223333", "999988887777"]
    )

    assert removed == LaunchPermissions(public=True, accounts=frozenset({"111122223333"}))
    assert describe_launch_permissions(ec2, image) == LaunchPermissions(
        accounts=frozenset({"444455556666"}), orgs=frozenset({ORG}), ous=frozenset({OU})
    )
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["Public"] is False


def test_revoke_is_idempotent(commercial: AwsClients) -> None:
    ec2 = commercial.ec2()
    image = make_image(ec2, real_arch="x86_64", tags={"Name": "mirror"})

    assert revoke_launch_permissions(ec2, image, public=True) == LaunchPermissions()
    assert describe_launch_permissions(ec2, image) == LaunchPermissions()


def test_govcloud_org_permission(govcloud: AwsClients) -> None:
    ec2 = govcloud.ec2()
    image = make_image(ec2, real_arch="x86_64", tags={"Name": "mirror"})

    grant_launch_permissions(ec2, image, orgs=[GOV_ORG])

    assert describe_launch_permissions(ec2, image).orgs == frozenset({GOV_ORG})
