"""Block-public-access preflight: the program stops before registering anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from artifact_mirrors.aws import PublicSharingBlockedError, public_sharing_blocked_message
from artifact_mirrors.spec.load import load_project
from components.preflight import block_public_access_problems
from tests.conftest import edit


def blocked_in(*regions: str):
    calls: list[tuple[str, str, str | None]] = []

    def check(partition: str, region: str, profile: str | None) -> None:
        calls.append((partition, region, profile))
        if region in regions:
            raise PublicSharingBlockedError(public_sharing_blocked_message(region))

    return check, calls


def load(project: Path):
    return load_project(project / "mirrors/destinations.yaml", project / "mirrors/releases")


def test_every_public_region_is_checked_with_its_partition_profile(project: Path) -> None:
    check, calls = blocked_in()
    assert block_public_access_problems(load(project), check) == []
    assert len(calls) == 17 + 2
    assert ("aws-us-gov", "us-gov-east-1", "teleport-govcloud") in calls
    assert ("aws", "sa-east-1", "teleport-mirrors") in calls


def test_blocked_regions_are_reported_each_on_one_line(project: Path) -> None:
    check, _ = blocked_in("us-east-2", "us-gov-west-1")
    assert block_public_access_problems(load(project), check) == [
        public_sharing_blocked_message("us-east-2"),
        public_sharing_blocked_message("us-gov-west-1"),
    ]
    assert public_sharing_blocked_message("us-east-2") == (
        "cannot make AMIs public in us-east-2: image block public access is 'block-new-sharing' "
        "for this account in us-east-2. Fix: run `aws ec2 disable-image-block-public-access "
        "--region us-east-2`, or set `block_public_access: manage` on the partition in the spec "
        "so the mirror turns it off in us-east-2"
    )


MANAGED = (
    "      block_public_access: check  # fail in preview",
    "      block_public_access: manage  #",
)
NOT_PUBLIC = (
    "      launch_permissions: {public: true}\n      block_public_access: check  # fail",
    "      launch_permissions: {accounts: ['111122223333']}\n      block_public_access: check  #",
)


@pytest.mark.parametrize(("old", "new"), [MANAGED, NOT_PUBLIC], ids=["managed", "not-public"])
def test_commercial_regions_are_not_asked_when_managed_or_private(
    project: Path, old: str, new: str
) -> None:
    edit(project / "mirrors/destinations.yaml", old, new)
    check, calls = blocked_in("us-east-2")
    assert block_public_access_problems(load(project), check) == []
    assert {p for p, _, _ in calls} == {"aws-us-gov"}
