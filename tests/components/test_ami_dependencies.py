"""Ordering the engine must respect: a public grant waits for its region's unblock (issue 7.1)."""

from __future__ import annotations

from pathlib import Path

from components.mockrun import render
from tests.conftest import edit

T_LP = "aws:ec2/amiLaunchPermission:AmiLaunchPermission"
T_BPA = "aws:ec2/imageBlockPublicAccess:ImageBlockPublicAccess"
T_COPY = "aws:ec2/amiCopy:AmiCopy"

BPA_URN = (
    "urn:pulumi:prod::artifact-mirrors::artifact-mirrors:index:AwsPartition$"
    "aws:ec2/imageBlockPublicAccess:ImageBlockPublicAccess::aws/eu-west-3/image-block-public-access"
)


def manage(project: Path) -> None:
    edit(
        project / "mirrors/destinations.yaml",
        "      block_public_access: check  # fail in preview when a region blocks public sharing",
        "      block_public_access: manage",
    )


def test_public_grant_depends_on_the_regions_block_public_access(project: Path) -> None:
    manage(project)
    resources = render(project, "prod")
    (bpa,) = [r for r in resources if r.type == T_BPA and r.name.startswith("aws/eu-west-3/")]
    assert bpa.urn == BPA_URN
    (grant,) = [r for r in resources if r.type == T_LP and r.name == (
        "15.1.6/ent-fips-arm64@eu-west-3/group=all")]  # fmt: skip
    (copy,) = [r for r in resources if r.type == T_COPY and r.name == (
        "15.1.6/ent-fips-arm64@eu-west-3")]  # fmt: skip
    # The copy (implicit, through imageId) and the unblock (explicit): nothing else.
    assert sorted(grant.depends_on) == sorted([copy.urn, BPA_URN])
    # Every public grant in a managed region waits for that region's unblock.
    public = [r for r in resources if r.type == T_LP and r.name.split("@")[1].startswith("eu-")]
    assert public and all(
        f"aws/{r.name.split('@')[1].split('/')[0]}/image-block-public-access"
        in {d.rsplit("::", 1)[1] for d in r.depends_on}
        for r in public
    )


def test_grants_do_not_depend_on_unblock_when_checked(project: Path) -> None:
    resources = render(project, "prod")
    assert not [r for r in resources if r.type == T_BPA]
    grant = next(r for r in resources if r.name == "15.1.6/ent-fips-arm64@eu-west-3/group=all")
    assert [d.rsplit("::", 1)[1] for d in grant.depends_on] == ["15.1.6/ent-fips-arm64@eu-west-3"]
