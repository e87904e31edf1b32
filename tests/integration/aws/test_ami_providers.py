"""AMI dynamic providers through the real provider server, against a real moto_server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from artifact_mirrors.aws import AwsClients, describe_launch_permissions, grant_launch_permissions
from components.dynamic.ami import AmiTransferProvider, LaunchPermissionRevocationProvider
from tests.integration.aws.helpers import make_image, teleport_tags
from tests.providers.harness import ProviderError, ProviderServer, provider_server, urn

REVOKE_TYPE = "pulumi-python:dynamic/artifact-mirrors:LaunchPermissionRevocation"
TRANSFER_TYPE = "pulumi-python:dynamic/artifact-mirrors:AmiTransfer"


@pytest.fixture
def server(moto: str) -> Iterator[ProviderServer]:
    # The moto fixture has set the endpoint and credential-file variables in os.environ; the
    # provider server inherits them, as it inherits the engine's environment in real use.
    with provider_server() as running:
        yield running


def test_revocation_removes_exactly_the_declared_permission(server: ProviderServer) -> None:
    ec2 = AwsClients("aws", "eu-west-1", profile="commercial").ec2()
    image = make_image(
        ec2, real_arch="x86_64", tags=teleport_tags("17.0.1", "oss", "x86_64", False)
    )
    grant_launch_permissions(ec2, image, public=True, accounts=("111122223333",))
    drv = server.driver(LaunchPermissionRevocationProvider())
    res = urn("17.0.1/oss-x86_64@eu-west-1/revoke/group=all", REVOKE_TYPE)
    props = {
        "release": "17.0.1",
        "partition": "aws",
        "region": "eu-west-1",
        "profile": "commercial",
        "image_id": image,
        "kind": "group",
        "value": "all",
    }
    created = drv.create(res, drv.check(res, None, props).inputs)
    assert created.id == f"{image}/group=all/revoked"
    left = describe_launch_permissions(ec2, image)
    assert left.public is False
    assert left.accounts == frozenset({"111122223333"})  # not in this revocation: untouched
    # Removing the revocation record (un-yank) must not touch the image.
    drv.delete(created.id, res, created.outputs)
    assert describe_launch_permissions(ec2, image).accounts == frozenset({"111122223333"})


def test_transfer_reuses_an_already_restored_ami_without_touching_the_source(
    server: ProviderServer, govcloud: AwsClients
) -> None:
    gov_ec2 = govcloud.ec2()
    # ami-0123456789abcdef0 does not exist in the commercial account: any source call would fail.
    restored = make_image(
        gov_ec2,
        real_arch="arm64",
        tags={"mirror-of": "ami-0123456789abcdef0@us-west-2", "Name": "teleport-oss-17.0.1"},
    )
    drv = server.driver(AmiTransferProvider())
    res = urn("17.0.1/oss-arm64@us-gov-west-1/transfer", TRANSFER_TYPE)
    props = {
        "release": "17.0.1",
        "key": "oss-arm64",
        "name": "teleport-oss-17.0.1-arm64",
        "description": "Mirror of Teleport 17.0.1",
        "source_image_id": "ami-0123456789abcdef0",
        "source_region": "us-west-2",
        "source_profile": "commercial",
        "source_bucket": "teleport-ami-transfer",
        "destination_region": "us-gov-west-1",
        "destination_profile": "govcloud",
        "destination_bucket": "teleport-ami-transfer-govcloud",
        "tags": {"mirror-of": "ami-0123456789abcdef0@us-west-2", "mirror-release": "17.0.1"},
        "image_id": None,
    }
    created = drv.create(res, drv.check(res, None, props).inputs)
    assert created.id == restored
    assert created.outputs["image_id"] == restored
    tags = {
        t["Key"]: t["Value"]
        for t in gov_ec2.describe_images(ImageIds=[restored])["Images"][0]["Tags"]
    }
    assert tags["mirror-release"] == "17.0.1"


def test_transfer_failure_is_one_clear_message(server: ProviderServer) -> None:
    drv = server.driver(AmiTransferProvider())
    res = urn("17.0.1/oss-arm64@us-gov-west-1/transfer", TRANSFER_TYPE)
    props: dict[str, object] = {
        "release": "17.0.1",
        "key": "oss-arm64",
        "name": "teleport-oss-17.0.1-arm64",
        "description": "d",
        "source_image_id": "ami-0123456789abcdef0",
        "source_region": "us-west-2",
        "source_profile": "commercial",
        "source_bucket": "teleport-ami-transfer",
        "destination_region": "us-gov-west-1",
        "destination_profile": "govcloud",
        "destination_bucket": "teleport-ami-transfer-govcloud",
        "tags": {},
        "image_id": None,
    }
    with pytest.raises(ProviderError) as err:
        drv.create(res, drv.check(res, None, props).inputs)
    assert str(err.value) == (
        "GovCloud transfer of ami-0123456789abcdef0: AWS InvalidAMIID.NotFound in DescribeImages: "
        "The image id '[ami-0123456789abcdef0]' does not exist"
    )
