"""Read, grant and revoke AMI launch permissions (ModifyImageAttribute launchPermission).

Used by the dynamic "revocation" resource (yank) and by verify. Teleport once left AMIs private by
mistake (gravitational/teleport#4350), so permissions are always read back, never assumed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from artifact_mirrors.aws.types import LaunchPermissions

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import LaunchPermissionTypeDef


def describe_launch_permissions(ec2_client: EC2Client, image_id: str) -> LaunchPermissions:
    """The AMI's launch permissions as the owner sees them (DescribeImageAttribute)."""
    resp = ec2_client.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    return from_api(resp.get("LaunchPermissions", []))


def from_api(permissions: Iterable[LaunchPermissionTypeDef]) -> LaunchPermissions:
    public = False
    accounts: set[str] = set()
    orgs: set[str] = set()
    ous: set[str] = set()
    for perm in permissions:
        if perm.get("Group") == "all":
            public = True
        if "UserId" in perm:
            accounts.add(perm["UserId"])
        if "OrganizationArn" in perm:
            orgs.add(perm["OrganizationArn"])
        if "OrganizationalUnitArn" in perm:
            ous.add(perm["OrganizationalUnitArn"])
    return LaunchPermissions(public, frozenset(accounts), frozenset(orgs), frozenset(ous))


def to_api(perms: LaunchPermissions) -> list[LaunchPermissionTypeDef]:
    out: list[LaunchPermissionTypeDef] = []
    if perms.public:
        out.append({"Group": "all"})
    out += [{"UserId": a} for a in sorted(perms.accounts)]
    out += [{"OrganizationArn": o} for o in sorted(perms.orgs)]
    out += [{"OrganizationalUnitArn": u} for u in sorted(perms.ous)]
    return out


def _perms(
    public: bool, accounts: Iterable[str], orgs: Iterable[str], ous: Iterable[str]
) -> LaunchPermissions:
    return LaunchPermissions(public, frozenset(accounts), frozenset(orgs), frozenset(ous))


def grant_launch_permissions(
    ec2_client: EC2Client,
    image_id: str,
    public: bool = False,
    accounts: Iterable[str] = (),
    orgs: Iterable[str] = (),
    ous: Iterable[str] = (),
) -> LaunchPermissions:
    """Add launch permissions; returns what was requested (no call when nothing is requested)."""
    perms = _perms(public, accounts, orgs, ous)
    if not perms.empty:
        ec2_client.modify_image_attribute(
            ImageId=image_id, Attribute="launchPermission", LaunchPermission={"Add": to_api(perms)}
        )
    return perms


def revoke_launch_permissions(
    ec2_client: EC2Client,
    image_id: str,
    public: bool = False,
    accounts: Iterable[str] = (),
    orgs: Iterable[str] = (),
    ous: Iterable[str] = (),
) -> LaunchPermissions:
    """Remove launch permissions that are currently granted; returns what was actually removed.

    Reads the current permissions first so that revoking is idempotent and the caller can report
    exactly what changed (the yank preview promises "exactly the permissions revoked").
    """
    current = describe_launch_permissions(ec2_client, image_id)
    wanted = _perms(public, accounts, orgs, ous)
    to_remove = LaunchPermissions(
        public=wanted.public and current.public,
        accounts=wanted.accounts & current.accounts,
        orgs=wanted.orgs & current.orgs,
        ous=wanted.ous & current.ous,
    )
    if not to_remove.empty:
        ec2_client.modify_image_attribute(
            ImageId=image_id,
            Attribute="launchPermission",
            LaunchPermission={"Remove": to_api(to_remove)},
        )
    return to_remove
