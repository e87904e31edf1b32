"""AmiMirror: one source AMI of one release, copied into every region of one partition."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from artifact_mirrors import naming
from artifact_mirrors.spec.model import PartitionTarget, Release, ReleaseAmi
from components.aws_partition import AwsPartition
from components.dynamic.ami import (
    AmiTransfer,
    LaunchPermissionRevocation,
    RevocationArgs,
    SnapshotPermissionRevocation,
    SnapshotRevocationArgs,
    TransferArgs,
)

TYPE = f"{naming.TYPE_PREFIX}:AmiMirror"


@dataclass(frozen=True)
class AmiMirrorArgs:
    release: Release
    ami: ReleaseAmi
    target: PartitionTarget
    description: str
    tags: dict[str, str]
    partition: AwsPartition  # the partition's providers (one per region)
    # GovCloud only: the commercial mirror copy the transfer starts from, its credentials, and
    # its AMI name (the restored AMI is named after it, so each source generation gets its own).
    transfer_source: pulumi.Input[str] | None = None
    transfer_source_profile: str | None = None
    transfer_source_name: str | None = None
    # region -> id of a copy that exists already (the release's archive record): read, not
    # copied, when a retired release comes back (re-entering the window, or a yank).
    archived_ids: Mapping[str, str] = field(default_factory=dict)


class AmiMirror(pulumi.ComponentResource):
    image_ids: dict[str, pulumi.Output[str]]
    names: dict[str, str]  # region -> AMI name of the copy (naming.ami_copy_name)

    def __init__(
        self, name: str, args: AmiMirrorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        a, t, partition = args, args.target, args.partition
        version, key = a.release.name, a.ami.key
        self.image_ids = {}
        self.names = {}
        retain = pulumi.ResourceOptions(parent=self, retain_on_delete=True)

        source_id: pulumi.Input[str] = a.ami.id
        source_region = a.ami.region
        base_name = a.ami.name  # what this partition's copies are named after
        landing = t.transfer.landing_region if t.transfer is not None else ""
        if landing and landing in a.archived_ids:
            # Restored once already (the archive records its id): nothing to transfer again.
            # AmiTransfer is a dynamic resource, which cannot be read (pulumi/pulumi#16175), so
            # the id is used as it is.
            base_name = a.transfer_source_name or a.ami.name
            self.image_ids[landing] = pulumi.Output.from_input(a.archived_ids[landing])
            self.names[landing] = base_name
            source_id, source_region = a.archived_ids[landing], landing
        elif t.transfer is not None:
            # CopyImage cannot cross partitions: the landing region's AMI is restored from S3.
            assert a.transfer_source is not None
            base_name = a.transfer_source_name or a.ami.name
            transfer = AmiTransfer(
                naming.ami_transfer(version, key, t.transfer.landing_region),
                TransferArgs(
                    release=version,
                    key=key,
                    name=base_name,
                    description=a.description,
                    source_image_id=a.transfer_source,
                    source_region=t.transfer.source_bucket.region,
                    source_profile=a.transfer_source_profile,
                    source_bucket=t.transfer.source_bucket.name,
                    destination_region=t.transfer.landing_region,
                    destination_profile=t.profile,
                    destination_bucket=t.transfer.destination_bucket.name,
                    tags=a.tags,
                    timeout_minutes=t.transfer.timeout_minutes,
                ),
                pulumi.ResourceOptions.merge(
                    retain, pulumi.ResourceOptions(custom_timeouts=_timeouts(t))
                ),
            )
            self.image_ids[t.transfer.landing_region] = transfer.image_id
            self.names[t.transfer.landing_region] = base_name
            source_id, source_region = transfer.image_id, t.transfer.landing_region

        for region in t.regions:
            if region in self.image_ids:
                continue
            provider = partition.provider(region)
            kms_key = t.kms_keys.get(region)
            self.names[region] = naming.ami_copy_name(base_name, t.encrypted, kms_key)
            archived_id = a.archived_ids.get(region)
            copy: aws.ec2.AmiCopy
            if archived_id is not None:
                # The copy made before the release left the window, by its recorded id: a read
                # (`pulumi preview` shows "read"), never a second copy; its root snapshot id
                # comes from the read. The arguments are the state the read starts from.
                copy = aws.ec2.AmiCopy.get(
                    naming.ami_copy(version, key, region),
                    archived_id,
                    opts=pulumi.ResourceOptions(parent=self, provider=provider),
                    name=self.names[region],
                    description=a.description,
                    source_ami_id=source_id,
                    source_ami_region=source_region,
                    tags=a.tags,
                )
            else:
                copy = aws.ec2.AmiCopy(
                    naming.ami_copy(version, key, region),
                    name=self.names[region],
                    description=a.description,
                    source_ami_id=source_id,
                    source_ami_region=source_region,
                    encrypted=t.encrypted or None,
                    kms_key_id=kms_key,
                    deprecation_time=t.deprecate_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                    if t.deprecate_at
                    else None,
                    tags=a.tags,
                    opts=pulumi.ResourceOptions.merge(
                        retain,
                        pulumi.ResourceOptions(provider=provider, custom_timeouts=_timeouts(t)),
                    ),
                )
            self.image_ids[region] = copy.id
            if not t.launch_permissions.snapshot_create_volume:
                continue
            # Lets the shared accounts create volumes from the root snapshot (EBS direct use,
            # e.g. for scanning); launching the AMI does not need it. pulumi-aws only shares
            # snapshots with accounts, so public/org grants have no snapshot twin.
            for account in t.launch_permissions.accounts:
                if a.release.yanked:
                    # The grant is retained, so dropping it would leave the snapshot shared:
                    # a yank revokes explicitly, like launch permissions.
                    SnapshotPermissionRevocation(
                        naming.snapshot_permission_revocation(version, key, region, account),
                        SnapshotRevocationArgs(
                            release=version,
                            partition=t.partition,
                            region=region,
                            profile=t.profile,
                            image_id=copy.id,
                            account=account,
                        ),
                        pulumi.ResourceOptions(parent=self),
                    )
                else:
                    aws.ec2.SnapshotCreateVolumePermission(
                        naming.snapshot_permission(version, key, region, account),
                        snapshot_id=copy.root_snapshot_id,
                        account_id=account,
                        opts=pulumi.ResourceOptions.merge(
                            retain, pulumi.ResourceOptions(provider=provider)
                        ),
                    )

        for region in t.regions:
            provider = partition.provider(region)
            unblock: list[pulumi.Resource] = []
            if t.launch_permissions.public and t.block_public_access == "manage":
                unblock.append(partition.unblock_public_sharing(region))
            for kind, value in t.launch_permissions.grants():
                if a.release.yanked:
                    LaunchPermissionRevocation(
                        naming.launch_permission_revocation(version, key, region, kind, value),
                        RevocationArgs(
                            release=version,
                            partition=t.partition,
                            region=region,
                            profile=t.profile,
                            image_id=self.image_ids[region],
                            kind=kind,
                            value=value,
                        ),
                        pulumi.ResourceOptions(parent=self),
                    )
                else:
                    aws.ec2.AmiLaunchPermission(
                        naming.launch_permission(version, key, region, kind, value),
                        image_id=self.image_ids[region],
                        **{kind: value},
                        opts=pulumi.ResourceOptions.merge(
                            retain,
                            pulumi.ResourceOptions(
                                provider=provider,
                                # Only the public grant needs sharing unblocked first.
                                depends_on=unblock if kind == "group" else None,
                            ),
                        ),
                    )
        self.register_outputs({"image_ids": self.image_ids})


def _timeouts(t: PartitionTarget) -> pulumi.CustomTimeouts:
    # Copies of large AMIs take tens of minutes per region; pulumi-aws's default is 40m.
    minutes = f"{t.copy_timeout_minutes}m"
    return pulumi.CustomTimeouts(create=minutes, update=minutes, delete=minutes)
