"""Find a release's AMIs in the vendor's first-party account, by tags (never by name).

Names carry a build timestamp (`teleport-ent-17.0.1-arm64-fips-20250101-120000UTC`), so the only
stable identity of "the 17.0.1 ent arm64 FIPS AMI" is its tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from artifact_mirrors.aws.errors import (
    AmbiguousAmiError,
    AmiNotFoundError,
    WrongArchitectureError,
)
from artifact_mirrors.aws.types import EditionKey, ResolvedAmi, TagNames, TagValues

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import ImageTypeDef

# Images that can still become (or are) launchable. `failed`/`error`/`deregistered`/`disabled`
# images are leftovers of broken builds and must not make a lookup ambiguous.
_USABLE_STATES = frozenset({"available", "pending"})


def tags_of(image: ImageTypeDef) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in image.get("Tags", []) if "Key" in t and "Value" in t}


def describe_release_images(
    ec2_client: EC2Client, owner: str, version_filter: tuple[str, str]
) -> list[ImageTypeDef]:
    """All images of `owner` whose tag `version_filter[0]` equals `version_filter[1]`."""
    tag, value = version_filter
    images: list[ImageTypeDef] = []
    paginator = ec2_client.get_paginator("describe_images")
    for page in paginator.paginate(
        Owners=[owner],
        Filters=[{"Name": f"tag:{tag}", "Values": [value]}],
        # A deprecated release AMI is still the release AMI; verify reports deprecation.
        IncludeDeprecated=True,
    ):
        images.extend(page.get("Images", []))
    return images


def _criteria(
    version: str, key: EditionKey, tag_names: TagNames, tag_values: TagValues
) -> dict[str, str]:
    # Ordered as in the error message: version, edition, arch, fips.
    return {
        tag_names.version: version,
        tag_names.edition: tag_values.edition(key.edition),
        tag_names.arch: tag_values.arch(key.arch),
        tag_names.fips: tag_values.fips(key.fips),
    }


def find_release_amis(
    ec2_client: EC2Client,
    owner: str,
    version: str,
    tag_names: TagNames,
    editions: Iterable[EditionKey | tuple[str, str, bool]],
    tag_values: TagValues | None = None,
) -> list[ResolvedAmi]:
    """Exactly one AMI per (edition, arch, fips) of `version` in `owner`'s account.

    Raises AmiNotFoundError, AmbiguousAmiError or WrongArchitectureError with a message that
    names the account, region and tags searched. One DescribeImages call per region.
    """
    values = tag_values or TagValues()
    region = ec2_client.meta.region_name
    keys = [k if isinstance(k, EditionKey) else EditionKey(*k) for k in editions]
    images = describe_release_images(ec2_client, owner, (tag_names.version, version))
    resolved: list[ResolvedAmi] = []
    for key in keys:
        criteria = _criteria(version, key, tag_names, values)
        wanted = ", ".join(f"{k}={v}" for k, v in criteria.items())
        matching = [
            img for img in images if all(tags_of(img).get(k) == v for k, v in criteria.items())
        ]
        usable = [img for img in matching if img.get("State") in _USABLE_STATES]
        if not usable:
            unusable = "".join(
                f" (found {img.get('ImageId')} in state {img.get('State')})" for img in matching
            )
            raise AmiNotFoundError(
                f"no AMI in account {owner} {region} with {wanted}{unusable}. Hint: check that"
                f" release {version} was published to this account and region, and that the tag"
                f" names and values (TagNames/TagValues) match the vendor's; AMIs are found by"
                f" tags, never by name"
            )
        if len(usable) > 1:
            ids = ", ".join(sorted(img.get("ImageId", "?") for img in usable))
            raise AmbiguousAmiError(
                f"{len(usable)} AMIs in account {owner} {region} match {wanted}: {ids}."
                f" Hint: deregister or retag the extra AMIs so exactly one carries these tags"
            )
        image = usable[0]
        real_arch = image.get("Architecture", "")
        image_id = image.get("ImageId", "")
        # EditionKey.arch uses EC2's Architecture values; only the tag value is mapped.
        if key.arch != real_arch:
            raise WrongArchitectureError(
                f"AMI {image_id} ({image.get('Name', '')}) in account {owner} {region} is tagged"
                f" {tag_names.arch}={values.arch(key.arch)} but its Architecture attribute is"
                f" {real_arch} (wrong architecture); fix the tag in the source account"
            )
        resolved.append(
            ResolvedAmi(
                id=image_id,
                name=image.get("Name", ""),
                region=region,
                arch=key.arch,
                edition=key.edition,
                fips=key.fips,
                state=image.get("State", ""),
                root_device_type=image.get("RootDeviceType", ""),
                tags=tags_of(image),
                owner=image.get("OwnerId", owner),
            )
        )
    return resolved


def teleport_editions() -> Sequence[EditionKey]:
    """Teleport's six AMI flavours (there is no oss+fips AMI)."""
    return [
        EditionKey("oss", "x86_64", False),
        EditionKey("oss", "arm64", False),
        EditionKey("ent", "x86_64", False),
        EditionKey("ent", "arm64", False),
        EditionKey("ent", "x86_64", True),
        EditionKey("ent", "arm64", True),
    ]
