"""AMI resources pulumi-aws does not have.

- LaunchPermissionRevocation: the "unpublish" half of a yank. AmiLaunchPermission resources are
  retain_on_delete (removing a release from the program must never make its AMIs private), so a
  yank cannot revoke by deleting them; instead the yank update replaces each grant with a
  revocation, and `pulumi preview` lists exactly the permissions that will be removed.
- AmiTransfer: commercial -> GovCloud, where CopyImage cannot cross partitions
  (https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/using-govcloud-amis.html):
  CreateStoreImageTask -> S3 -> copy with the GovCloud credentials -> CreateRestoreImageTask.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from components.dynamic import DynamicResource, props_of

TRANSFER_NOT_IMPLEMENTED = (
    "cross-partition AMI transfer is not implemented yet (see the AMI mirroring issue); "
    "GovCloud copies cannot be created by `pulumi up` until it lands"
)

# Same variable the library honours: points every AWS client at moto_server in tests/local stack.
ENDPOINT_ENV = "MIRRORS_AWS_ENDPOINT_URL"


def _ec2(profile: str | None, region: str) -> Any:
    # Credentials are resolved here, at call time, from the named profile or the environment;
    # nothing is stored on the provider object that dill pickles into state.
    session = boto3.Session(profile_name=profile or None, region_name=region)
    return session.client("ec2", endpoint_url=os.environ.get(ENDPOINT_ENV) or None)


def _permission(kind: str, value: str) -> dict[str, str]:
    return {
        "group": {"Group": value},
        "account_id": {"UserId": value},
        "organization_arn": {"OrganizationArn": value},
        "organizational_unit_arn": {"OrganizationalUnitArn": value},
    }[kind]


@dataclass(frozen=True)
class RevocationArgs:
    release: str
    partition: str
    region: str
    profile: str | None
    image_id: pulumi.Input[str]
    kind: str  # group | account_id | organization_arn | organizational_unit_arn
    value: str


class LaunchPermissionRevocationProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        ec2 = _ec2(props.get("profile"), props["region"])
        ec2.modify_image_attribute(
            ImageId=props["image_id"],
            Attribute="launchPermission",
            LaunchPermission={"Remove": [_permission(props["kind"], props["value"])]},
        )
        rid = f"{props['image_id']}/{props['kind']}={props['value']}/revoked"
        return CreateResult(rid, props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("image_id", "kind", "value", "region")
        replaces = [k for k in keys if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(replaces), replaces=replaces)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Un-yanking re-creates the AmiLaunchPermission (which grants again); removing the
        # revocation record itself must not touch the image.
        return None


@dataclass(frozen=True)
class TransferArgs:
    release: str
    key: str
    name: str
    description: str
    source_image_id: pulumi.Input[str]
    source_region: str
    source_profile: str | None
    source_bucket: str
    destination_region: str
    destination_profile: str | None
    destination_bucket: str
    tags: dict[str, str]


class AmiTransferProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        raise RuntimeError(TRANSFER_NOT_IMPLEMENTED)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [
            k for k in ("source_image_id", "destination_region") if olds.get(k) != news.get(k)
        ]
        changed = replaces or [k for k in ("tags", "description") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=replaces)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        raise RuntimeError(TRANSFER_NOT_IMPLEMENTED)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # retained like every published artifact


class LaunchPermissionRevocation(
    DynamicResource, module="artifact-mirrors", name="LaunchPermissionRevocation"
):
    def __init__(
        self, name: str, args: RevocationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(LaunchPermissionRevocationProvider(), name, props_of(args), opts)


class AmiTransfer(DynamicResource, module="artifact-mirrors", name="AmiTransfer"):
    image_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: TransferArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(AmiTransferProvider(), name, {**props_of(args), "image_id": None}, opts)
