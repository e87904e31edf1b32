"""AMI resources pulumi-aws does not have.

- LaunchPermissionRevocation: the "unpublish" half of a yank. AmiLaunchPermission resources are
  retain_on_delete (removing a release from the program must never make its AMIs private), so a
  yank cannot revoke by deleting them; instead the yank update replaces each grant with a
  revocation, and `pulumi preview` lists exactly the permissions that will be removed.
- SnapshotPermissionRevocation: the same for the root snapshot's createVolumePermission
  (`snapshot_create_volume: true`), whose SnapshotCreateVolumePermission resources are retained
  as well; without it a yanked AMI stays private but its snapshot stays shared.
- AmiTransfer: commercial -> GovCloud, where CopyImage cannot cross partitions
  (https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/using-govcloud-amis.html):
  CreateStoreImageTask -> S3 -> copy with the GovCloud credentials -> CreateRestoreImageTask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from botocore.exceptions import ClientError
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from artifact_mirrors.aws import (
    AwsMirrorError,
    PollSettings,
    TransferDestination,
    TransferSource,
    clients_for,
    revoke_create_volume_permissions,
    revoke_launch_permissions,
    transfer_ami_across_partitions,
)
from components.dynamic import DynamicResource, props_of

# AmiLaunchPermission's argument -> the library's keyword (group=all is `public`, below).
_PERMISSION_ARGS = {
    "account_id": "accounts",
    "organization_arn": "orgs",
    "organizational_unit_arn": "ous",
}


def _permission(kind: str, value: str) -> dict[str, Any]:
    """One AmiLaunchPermission grant as the library's keyword arguments."""
    if kind == "group":
        return {"public": value == "all"}
    return {_PERMISSION_ARGS[kind]: (value,)}


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
        # Credentials are resolved here, at call time, from the named profile or the
        # environment; nothing is stored on the provider object that dill pickles into state.
        clients = clients_for(props["partition"], props["region"], props.get("profile"))
        revoke_launch_permissions(
            clients.ec2(), props["image_id"], **_permission(props["kind"], props["value"])
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
class SnapshotRevocationArgs:
    release: str
    partition: str
    region: str
    profile: str | None
    image_id: pulumi.Input[str]  # the snapshot is found from the AMI at call time
    account: str


class SnapshotPermissionRevocationProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        # As for launch permissions: credentials at call time, nothing pickled. The snapshot id
        # is not an input (the copy's root_snapshot_id is unknown in a preview and the copy may
        # be re-read); the AMI's root block device mapping names it.
        clients = clients_for(props["partition"], props["region"], props.get("profile"))
        image_id, account = props["image_id"], props["account"]
        try:
            snapshot, _ = revoke_create_volume_permissions(clients.ec2(), image_id, (account,))
        except AwsMirrorError as exc:
            raise RuntimeError(f"revoking snapshot permission of {image_id}: {exc}") from None
        except ClientError as exc:
            raise _aws_failure(
                f"revoking snapshot permission of {image_id} for {account}", exc
            ) from None
        rid = f"{image_id}/snapshot/account_id={account}/revoked"
        return CreateResult(rid, {**props, "snapshot_id": snapshot})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("image_id", "account", "region")
        replaces = [k for k in keys if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(replaces), replaces=replaces)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Un-yanking re-creates the SnapshotCreateVolumePermission; the record touches nothing.
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
    # The whole transfer's deadline (spec: transfer.timeout_minutes): custom_timeouts do not
    # reach a dynamic provider (the SDK's Create handler ignores request.timeout).
    timeout_minutes: int = 360


class AmiTransferProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        image_id = _transfer(props)
        return CreateResult(image_id, {**props, "image_id": image_id})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [
            k for k in ("source_image_id", "destination_region") if olds.get(k) != news.get(k)
        ]
        changed = replaces or [k for k in ("tags", "description") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=replaces)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # Only tags/description changed (anything else replaces): the transfer finds the restored
        # AMI by its mirror-of tag and re-applies the tags, without restoring again.
        return UpdateResult({**news, "image_id": _transfer(news)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # retained like every published artifact


def _transfer(props: dict[str, Any]) -> str:
    src = clients_for("aws", props["source_region"], props.get("source_profile"))
    dst = clients_for("aws-us-gov", props["destination_region"], props.get("destination_profile"))
    try:
        return transfer_ami_across_partitions(
            TransferSource(src, props["source_image_id"], props["source_bucket"]),
            TransferDestination(dst, props["destination_bucket"]),
            props["name"],
            dict(props.get("tags") or {}),
            PollSettings(timeout=60.0 * int(props.get("timeout_minutes") or 360)),
        )
    except AwsMirrorError as exc:
        # The library's messages name the AMI, regions and the AWS limit; no traceback noise.
        raise RuntimeError(f"GovCloud transfer of {props['source_image_id']}: {exc}") from None
    except ClientError as exc:
        raise _aws_failure(f"GovCloud transfer of {props['source_image_id']}", exc) from None


def _aws_failure(what: str, exc: ClientError) -> RuntimeError:
    """One line naming the AWS error code, the call and AWS's message: no traceback noise."""
    error = exc.response.get("Error", {})
    return RuntimeError(
        f"{what}: AWS {error.get('Code')} in {exc.operation_name}: {error.get('Message')}"
    )


class LaunchPermissionRevocation(
    DynamicResource, module="artifact-mirrors", name="LaunchPermissionRevocation"
):
    def __init__(
        self, name: str, args: RevocationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(LaunchPermissionRevocationProvider(), name, props_of(args), opts)


class SnapshotPermissionRevocation(
    DynamicResource, module="artifact-mirrors", name="SnapshotPermissionRevocation"
):
    snapshot_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: SnapshotRevocationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            SnapshotPermissionRevocationProvider(),
            name,
            {**props_of(args), "snapshot_id": None},
            opts,
        )


class AmiTransfer(DynamicResource, module="artifact-mirrors", name="AmiTransfer"):
    image_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: TransferArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(AmiTransferProvider(), name, {**props_of(args), "image_id": None}, opts)
