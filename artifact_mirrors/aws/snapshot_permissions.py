"""Read and revoke createVolumePermission on an AMI's root snapshot (ModifySnapshotAttribute).

``snapshot_create_volume: true`` shares each mirror's root snapshot with the partition's accounts
(aws.ec2.SnapshotCreateVolumePermission). Those resources are retain_on_delete, so a yank cannot
revoke them by dropping them: the yank's SnapshotPermissionRevocation calls
:func:`revoke_create_volume_permissions`, and ``mirrors verify`` reads the permissions back.

Both only know the AMI id (the snapshot id is an output of the copy), so the root snapshot is
looked up at call time from the image's block device mapping.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, Literal

from artifact_mirrors.aws.errors import AwsMirrorError
from artifact_mirrors.aws.types import LaunchPermissions

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import ImageTypeDef

ATTRIBUTE: Final[Literal["createVolumePermission"]] = "createVolumePermission"


def root_snapshot_of(image: ImageTypeDef) -> str | None:
    """The EBS snapshot behind the image's root device (None for instance-store images)."""
    root = image.get("RootDeviceName")
    for mapping in image.get("BlockDeviceMappings", []):
        if mapping.get("DeviceName") == root:
            snapshot = mapping.get("Ebs", {}).get("SnapshotId")
            return snapshot or None
    return None


def root_snapshot_id(ec2_client: EC2Client, image_id: str) -> str:
    """The root snapshot of ``image_id`` (DescribeImages); raises when it has none."""
    images = ec2_client.describe_images(ImageIds=[image_id]).get("Images", [])
    if not images:
        raise AwsMirrorError(f"AMI {image_id} not found: cannot find its root snapshot")
    snapshot = root_snapshot_of(images[0])
    if snapshot is None:
        raise AwsMirrorError(
            f"AMI {image_id} has no EBS root snapshot (root device"
            f" {images[0].get('RootDeviceName', '?')}): nothing to share or revoke"
        )
    return snapshot


def describe_create_volume_permissions(
    ec2_client: EC2Client, snapshot_id: str
) -> LaunchPermissions:
    """Who may create volumes from the snapshot: group ``all`` as ``public``, and accounts."""
    resp = ec2_client.describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute=ATTRIBUTE)
    public = False
    accounts: set[str] = set()
    for perm in resp.get("CreateVolumePermissions", []):
        if perm.get("Group") == "all":
            public = True
        if "UserId" in perm:
            accounts.add(perm["UserId"])
    return LaunchPermissions(public=public, accounts=frozenset(accounts))


def revoke_create_volume_permissions(
    ec2_client: EC2Client, image_id: str, accounts: Iterable[str]
) -> tuple[str, frozenset[str]]:
    """Remove the accounts' createVolumePermission from the AMI's root snapshot.

    Returns (snapshot id, accounts actually removed). Reads the current permissions first, so a
    repeated revocation (a retried ``pulumi up``) makes no call and removes nothing.
    """
    snapshot = root_snapshot_id(ec2_client, image_id)
    current = describe_create_volume_permissions(ec2_client, snapshot)
    to_remove = frozenset(accounts) & current.accounts
    if to_remove:
        ec2_client.modify_snapshot_attribute(
            SnapshotId=snapshot,
            Attribute=ATTRIBUTE,
            OperationType="remove",
            UserIds=sorted(to_remove),
        )
    return snapshot, to_remove
