"""AWS providers: exactly one ``aws.Provider`` per (partition, region), created on first use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from artifact_mirrors import naming
from artifact_mirrors.regions import Partition
from artifact_mirrors.spec.model import PartitionTarget
from components.aws_endpoints import provider_endpoints

TYPE = f"{naming.TYPE_PREFIX}:AwsPartition"


@dataclass(frozen=True)
class AwsPartitionArgs:
    partition: Partition
    profile: str | None
    account: str | None  # when set, the provider refuses to act in any other account


def local_endpoint_args(account: str | None) -> dict[str, Any]:
    """Extra ``aws.Provider`` arguments when ``$MIRRORS_AWS_ENDPOINT_URL`` is set at program time.

    pulumi-aws does not read the variable the library's boto3 clients use, so without this a
    local stack's AmiCopy and launch permissions would go to real AWS. The endpoint (moto_server)
    has no instance metadata and no virtual-hosted buckets, and its credentials are dummies.
    The account id is still requested when ``allowed_account_ids`` is set: the provider's check
    of it fails on an unknown account id. Unset (production): no extra inputs at all, so an
    existing stack's providers do not change.
    """
    endpoints = provider_endpoints()
    if endpoints is None:
        return {}
    return {
        "endpoints": endpoints,
        "skip_credentials_validation": True,
        "skip_requesting_account_id": account is None,
        "skip_metadata_api_check": True,
        "s3_use_path_style": True,
    }


class AwsPartition(pulumi.ComponentResource):
    """Parent of one partition's providers, so a preview groups them and GovCloud stands apart."""

    def __init__(
        self, name: str, args: AwsPartitionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self.args = args
        self._providers: dict[str, aws.Provider] = {}
        self._bpa: dict[str, aws.ec2.ImageBlockPublicAccess] = {}
        self.register_outputs({"partition": args.partition})

    def provider(self, region: str) -> aws.Provider:
        if region not in self._providers:
            self._providers[region] = aws.Provider(
                naming.aws_provider(self.args.partition, region),
                region=region,
                profile=self.args.profile,
                allowed_account_ids=[self.args.account] if self.args.account else None,
                default_tags=aws.ProviderDefaultTagsArgs(tags={"managed-by": naming.PROJECT}),
                opts=pulumi.ResourceOptions(parent=self),
                **local_endpoint_args(self.args.account),
            )
        return self._providers[region]

    def unblock_public_sharing(self, region: str) -> aws.ec2.ImageBlockPublicAccess:
        """Manage image block public access (opt-in: ``block_public_access: manage``).

        Returns the region's one resource so that public grants can ``depends_on`` it: without
        the dependency the engine runs the grant in parallel with the unblock whenever the copy
        already exists, and ModifyImageAttribute Group=all fails while sharing is still blocked.
        """
        if region not in self._bpa:
            self._bpa[region] = aws.ec2.ImageBlockPublicAccess(
                naming.block_public_access(self.args.partition, region),
                state="unblocked",
                opts=pulumi.ResourceOptions(
                    parent=self, provider=self.provider(region), retain_on_delete=True
                ),
            )
        return self._bpa[region]


class AwsProviders:
    """Lazily creates one AwsPartition component per partition the program uses."""

    def __init__(self, targets: dict[Partition, PartitionTarget]) -> None:
        self._targets = targets
        self._partitions: dict[Partition, AwsPartition] = {}

    def partition(self, name: Partition) -> AwsPartition:
        if name not in self._partitions:
            target = self._targets.get(name)
            self._partitions[name] = AwsPartition(
                naming.partition(name),
                AwsPartitionArgs(
                    name,
                    target.profile if target else None,
                    target.account if target else None,
                ),
            )
        return self._partitions[name]

    def get(self, partition: Partition, region: str) -> aws.Provider:
        return self.partition(partition).provider(region)
