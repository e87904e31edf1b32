"""Checks that must fail `pulumi preview`, not half-way through `pulumi up`.

Image block public access makes every public AMI grant in a region fail
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/block-public-access-to-amis.html). With
``block_public_access: check`` (the default) the program asks each region before registering
anything and stops with one line per blocked region; ``manage`` declares
``aws.ec2.ImageBlockPublicAccess`` instead.
"""

from __future__ import annotations

from collections.abc import Callable

from artifact_mirrors.aws import AwsMirrorError, clients_for, ensure_public_sharing_allowed
from artifact_mirrors.spec.model import Project

# (partition, region, profile) -> None, or raises with the message to show.
RegionCheck = Callable[[str, str, str | None], None]


def aws_region_check(partition: str, region: str, profile: str | None) -> None:
    ensure_public_sharing_allowed(clients_for(partition, region, profile).ec2(), region)


def block_public_access_problems(project: Project, check: RegionCheck) -> list[str]:
    """One message per region where a public grant of a published release would be refused."""
    ami_spec = project.spec.amis
    if ami_spec is None or not any(r.amis and not r.yanked for r in project.releases):
        return []
    problems: list[str] = []
    for target in ami_spec.partitions.values():
        if not target.launch_permissions.public or target.block_public_access != "check":
            continue
        for region in target.regions:
            try:
                check(target.partition, region, target.profile)
            except AwsMirrorError as exc:
                problems.append(str(exc))
    return problems
