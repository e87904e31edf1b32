"""Every Pulumi logical name comes from here.

Names are derived only from the data that identifies a thing (release version, image, registry,
AMI edition key, region), never from list positions or counts, so adding release N adds only
release N's resources and a floating tag that moves is an update of one resource, not a
delete-and-create. Changing a function here renames resources (= replacements): don't, or add an
alias in the component.
"""

from __future__ import annotations

import hashlib

from artifact_mirrors.spec.model import Image, Registry

PROJECT = "artifact-mirrors"
TYPE_PREFIX = "artifact-mirrors:index"


def release(version: str) -> str:
    return version


def image_mirror(version: str, image: str, registry: str) -> str:
    return f"{version}/{image}@{registry}"


def registry_mirror(registry: str) -> str:
    return registry


def repository(registry: Registry, image: Image) -> str:
    return f"{registry.name}/{image.repository}"


def image_tag(registry: Registry, image: Image, tag: str) -> str:
    return f"{registry.name}/{image.repository}:{tag}"


def ami_mirror(version: str, key: str, partition: str) -> str:
    return f"{version}/{key}@{partition}"


def ami_copy(version: str, key: str, region: str) -> str:
    return f"{version}/{key}@{region}"


def launch_permission(version: str, key: str, region: str, kind: str, value: str) -> str:
    return f"{version}/{key}@{region}/{kind}={value}"


def launch_permission_revocation(version: str, key: str, region: str, kind: str, value: str) -> str:
    return f"{version}/{key}@{region}/revoke/{kind}={value}"


def snapshot_permission(version: str, key: str, region: str, account: str) -> str:
    return f"{version}/{key}@{region}/snapshot/account_id={account}"


def snapshot_permission_revocation(version: str, key: str, region: str, account: str) -> str:
    return f"{version}/{key}@{region}/snapshot/revoke/account_id={account}"


def ami_transfer(version: str, key: str, landing_region: str) -> str:
    return f"{version}/{key}@{landing_region}/transfer"


def partition(name: str) -> str:
    return name


def aws_provider(partition_name: str, region: str) -> str:
    # GovCloud providers carry their partition in the name ("aws-us-gov/us-gov-west-1") so that
    # nobody reading a preview mistakes them for commercial ones.
    return f"{partition_name}/{region}"


def registry_aws_provider(registry: str) -> str:
    # An ECR / ECR Public registry's own provider (its credentials.profile, the one its pushes
    # use), parented under the registry's component; never one of the AMI partitions'.
    return f"registry/{registry}/aws"


def block_public_access(partition_name: str, region: str) -> str:
    return f"{partition_name}/{region}/image-block-public-access"


AMI_NAME_MAX = 128
"""EC2 AMI names: 3-128 characters of ``[a-zA-Z0-9().-/_ ]``, unique per account and region."""


def ami_copy_name(base: str, encrypted: bool, kms_key_id: str | None) -> str:
    """The AMI name (not the logical name) of one copy generation of ``base``.

    ``encrypted`` and the KMS key force a replacement of the copy (AmiCopy, and AmiTransfer
    through its source), while the old copy is retained and keeps its name, so a new generation
    under the same name fails with InvalidAMIName.Duplicate. The default generation (not
    encrypted, no key) keeps ``base`` so that existing stacks see no change; any other appends
    ``-enc-`` and 8 hex of sha256 of the key (or ``default``, the account's EBS key). Going back
    to an earlier generation reuses its name: deregister the old copy first.
    """
    if not encrypted and not kms_key_id:
        return base
    suffix = "-enc-" + hashlib.sha256((kms_key_id or "default").encode()).hexdigest()[:8]
    return base[: AMI_NAME_MAX - len(suffix)] + suffix


def commercial_stack() -> str:
    # The StackReference a GovCloud-scoped stack reads its transfer sources from.
    return "commercial-stack"


# ---- Terraform providers -------------------------------------------------------------------------


def terraform_provider(provider: str) -> str:
    return f"terraform/{provider}"


def terraform_version(version: str, provider: str) -> str:
    return f"{version}/terraform/{provider}"


def terraform_aws_provider(provider: str, destination: str) -> str:
    # Each destination's own provider (its region and profile), under the provider's component.
    return f"terraform/{terraform_destination(provider, destination)}/aws"


def terraform_destination(provider: str, destination: str) -> str:
    """``PROVIDER@DESTINATION``: a provider mirror's destination in names and stack outputs
    (``releases.<version>.terraform_providers``, which `mirrors verify` reads back)."""
    return f"{provider}@{destination}"


def terraform_object(provider: str, destination: str, key: str) -> str:
    """One object of a provider mirror: the S3 key is its identity within the destination."""
    return f"terraform/{terraform_destination(provider, destination)}/{key}"


def terraform_invalidation(provider: str, destination: str) -> str:
    return f"terraform/{terraform_destination(provider, destination)}/cloudfront-invalidation"


# ---- Helm charts ---------------------------------------------------------------------------------


def chart_mirror(version: str, chart: str, registry: str) -> str:
    return f"{version}/chart/{chart}@{registry}"


def chart_tag(registry: str, repository: str, tag: str) -> str:
    # Like image_tag: the destination's identity (a chart's repository never equals an image's
    # in the same registry; the spec loader refuses that).
    return f"{registry}/{repository}:{tag}"


def chart_repository(registry: str, repository: str) -> str:
    # An ECR / ECR Public repository created for a chart (the other kinds create on push).
    return f"{registry}/{repository}"
