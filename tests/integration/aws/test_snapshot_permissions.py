"""A yank revokes the root snapshot's createVolumePermission; verify reads it back (issue 7.2).

Against a real moto_server, and through the SDK's real dynamic-provider server for the
revocation, as the engine runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from artifact_mirrors.aws import (
    AwsClients,
    ExpectedAmi,
    LaunchPermissions,
    describe_create_volume_permissions,
    root_snapshot_id,
    verify_mirrored_amis,
)
from components.dynamic.ami import SnapshotPermissionRevocationProvider
from tests.integration.aws.helpers import make_image, teleport_tags
from tests.providers.harness import ProviderError, ProviderServer, provider_server, urn

pytestmark = pytest.mark.moto

TYPE = "pulumi-python:dynamic/artifact-mirrors:SnapshotPermissionRevocation"
PARTNER = "111122223333"
SCANNER = "444455556666"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
WARN = timedelta(days=30)


@pytest.fixture
def server(moto: str) -> Iterator[ProviderServer]:
    with provider_server() as running:
        yield running


def shared_image(clients: AwsClients, *accounts: str) -> tuple[str, str]:
    """A mirror AMI whose root snapshot is shared with ``accounts``: (image id, snapshot id)."""
    ec2 = clients.ec2()
    image = make_image(
        ec2, real_arch="x86_64", tags=teleport_tags("17.0.1", "oss", "x86_64", False)
    )
    snapshot = root_snapshot_id(ec2, image)
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot,
        Attribute="createVolumePermission",
        OperationType="add",
        UserIds=list(accounts),
    )
    return image, snapshot


def props(image: str, account: str) -> dict[str, object]:
    return {
        "release": "17.0.1",
        "partition": "aws",
        "region": "us-west-2",
        "profile": "commercial",
        "image_id": image,
        "account": account,
        "snapshot_id": None,
    }


def test_revocation_finds_the_root_snapshot_and_removes_only_its_account(
    server: ProviderServer, commercial: AwsClients
) -> None:
    image, snapshot = shared_image(commercial, PARTNER, SCANNER)
    drv = server.driver(SnapshotPermissionRevocationProvider())
    res = urn(f"17.0.1/oss-x86_64@us-west-2/snapshot/revoke/account_id={PARTNER}", TYPE)
    created = drv.create(res, drv.check(res, None, props(image, PARTNER)).inputs)
    assert created.id == f"{image}/snapshot/account_id={PARTNER}/revoked"
    assert created.outputs["snapshot_id"] == snapshot
    left = describe_create_volume_permissions(commercial.ec2(), snapshot)
    assert left == LaunchPermissions(accounts=frozenset({SCANNER}))
    # A retried update revokes again without error (idempotent) and changes nothing.
    again = drv.create(res, drv.check(res, None, props(image, PARTNER)).inputs)
    assert again.id == created.id
    assert describe_create_volume_permissions(commercial.ec2(), snapshot) == left
    # Removing the record (un-yank) must not touch the snapshot.
    drv.delete(created.id, res, created.outputs)
    assert describe_create_volume_permissions(commercial.ec2(), snapshot) == left


def test_revocation_of_a_missing_ami_is_one_clear_message(server: ProviderServer) -> None:
    drv = server.driver(SnapshotPermissionRevocationProvider())
    res = urn(f"17.0.1/oss-x86_64@us-west-2/snapshot/revoke/account_id={PARTNER}", TYPE)
    with pytest.raises(ProviderError) as err:
        drv.create(res, drv.check(res, None, props("ami-0123456789abcdef0", PARTNER)).inputs)
    assert str(err.value) == (
        f"revoking snapshot permission of ami-0123456789abcdef0 for {PARTNER}: AWS"
        " InvalidAMIID.NotFound in DescribeImages: The image id '[ami-0123456789abcdef0]' does"
        " not exist"
    )


def expected(image: str, snapshot_accounts: frozenset[str]) -> ExpectedAmi:
    return ExpectedAmi(
        release="17.0.1",
        key="oss-x86_64",
        partition="aws",
        region="us-west-2",
        image_id=image,
        launch_permissions=LaunchPermissions(),
        tags={},
        snapshot_permissions=LaunchPermissions(accounts=snapshot_accounts),
    )


def check(commercial: AwsClients, exp: ExpectedAmi) -> list[tuple[str, str, str]]:
    findings = verify_mirrored_amis([exp], lambda _p, _r: commercial.ec2(), NOW, WARN)
    return [(f.check, f.expected, f.actual) for f in findings]


def test_verify_passes_exactly_the_declared_snapshot_accounts(commercial: AwsClients) -> None:
    image, _ = shared_image(commercial, PARTNER)
    assert check(commercial, expected(image, frozenset({PARTNER}))) == []


def test_verify_reports_a_yanked_ami_whose_snapshot_is_still_shared(
    commercial: AwsClients,
) -> None:
    image, snapshot = shared_image(commercial, PARTNER)
    # Yanked: no snapshot permission at all is expected.
    assert check(commercial, expected(image, frozenset())) == [
        ("snapshot-permissions", "private", f"{snapshot}: unexpected account {PARTNER}"),
    ]


def test_verify_reports_missing_and_unexpected_snapshot_accounts(commercial: AwsClients) -> None:
    image, snapshot = shared_image(commercial, SCANNER)
    assert check(commercial, expected(image, frozenset({PARTNER}))) == [
        ("snapshot-permissions", f"account {PARTNER}", f"{snapshot}: missing account {PARTNER}"),
        ("snapshot-permissions", f"account {PARTNER}", f"{snapshot}: unexpected account {SCANNER}"),
    ]
