from __future__ import annotations

import pytest

from artifact_mirrors.aws.errors import AmbiguousAmiError, AmiNotFoundError, WrongArchitectureError
from artifact_mirrors.aws.resolve import find_release_amis, teleport_editions
from artifact_mirrors.aws.session import AwsClients
from artifact_mirrors.aws.types import EditionKey, TagNames, TagValues
from tests.integration.aws.helpers import MOTO_ACCOUNT, make_image, make_release, teleport_tags

pytestmark = pytest.mark.moto

HINT = (
    "Hint: check that release 17.0.1 was published to this account and region, and that the tag"
    " names and values (TagNames/TagValues) match the vendor's; AMIs are found by tags, never by"
    " name"
)


def test_resolves_one_ami_per_edition_by_tags(commercial: AwsClients) -> None:
    ec2 = commercial.ec2()
    release = make_release(ec2, "17.0.1")
    make_release(ec2, "17.0.0")  # another release in the same account must not interfere

    resolved = find_release_amis(ec2, MOTO_ACCOUNT, "17.0.1", TagNames(), teleport_editions())

    assert {r.key.label: r.id for r in resolved} == release
    fips_arm = next(r for r in resolved if r.key == EditionKey("ent", "arm64", True))
    assert fips_arm.region == "us-west-2"
    assert fips_arm.state == "available"
    assert fips_arm.owner == MOTO_ACCOUNT
    assert fips_arm.tags["TeleportFipsEnabled"] == "true"
    assert fips_arm.tags["TeleportVersion"] == "17.0.1"


def test_missing_edition_names_account_region_and_tags(commercial: AwsClients) -> None:
    ec2 = commercial.ec2()
    make_image(ec2, real_arch="arm64", tags=teleport_tags("17.0.1", "ent", "arm64", False))

    with pytest.raises(AmiNotFoundError) as err:
        find_release_amis(ec2, MOTO_ACCOUNT, "17.0.1", TagNames(), [("ent", "arm64", True)])

    assert str(err.value) == (
        "no AMI in account 123456789012 us-west-2 with TeleportVersion=17.0.1,"
        " TeleportEdition=ent, Architecture=arm64, TeleportFipsEnabled=true. " + HINT
    )


def test_unusable_state_is_reported_as_missing(commercial: AwsClients) -> None:
    ec2 = commercial.ec2()
    image = make_image(
        ec2, real_arch="x86_64", tags=teleport_tags("17.0.1", "oss", "x86_64", False)
    )
    ec2.disable_image(ImageId=image)

    with pytest.raises(AmiNotFoundError) as err:
        find_release_amis(ec2, MOTO_ACCOUNT, "17.0.1", TagNames(), [("oss", "x86_64", False)])

    assert str(err.value) == (
        "no AMI in account 123456789012 us-west-2 with TeleportVersion=17.0.1,"
        f" TeleportEdition=oss, Architecture=x86_64, TeleportFipsEnabled=false (found {image} in"
        " state disabled). " + HINT
    )


def test_ambiguous_lists_candidates(commercial: AwsClients) -> None:
    ec2 = commercial.ec2()
    tags = teleport_tags("17.0.1", "ent", "x86_64", False)
    first = make_image(ec2, real_arch="x86_64", tags=tags)
    second = make_image(ec2, real_arch="x86_64", tags=tags)
    ids = ", ".join(sorted([first, second]))

    with pytest.raises(AmbiguousAmiError) as err:
        find_release_amis(ec2, MOTO_ACCOUNT, "17.0.1", TagNames(), [("ent", "x86_64", False)])

    assert str(err.value) == (
        "2 AMIs in account 123456789012 us-west-2 match TeleportVersion=17.0.1,"
        f" TeleportEdition=ent, Architecture=x86_64, TeleportFipsEnabled=false: {ids}."
        " Hint: deregister or retag the extra AMIs so exactly one carries these tags"
    )


def test_architecture_tag_must_match_the_image(commercial: AwsClients) -> None:
    ec2 = commercial.ec2()
    # Tagged arm64 but built from an x86_64 instance.
    image = make_image(
        ec2,
        real_arch="x86_64",
        tags=teleport_tags("17.0.1", "oss", "arm64", False),
        name="teleport-oss-17.0.1-arm64-20250101-120000UTC",
    )

    with pytest.raises(WrongArchitectureError) as err:
        find_release_amis(ec2, MOTO_ACCOUNT, "17.0.1", TagNames(), [("oss", "arm64", False)])

    assert str(err.value) == (
        f"AMI {image} (teleport-oss-17.0.1-arm64-20250101-120000UTC) in account 123456789012"
        " us-west-2 is tagged Architecture=arm64 but its Architecture attribute is x86_64"
        " (wrong architecture); fix the tag in the source account"
    )


def test_tag_names_and_values_are_configurable(commercial: AwsClients) -> None:
    ec2 = commercial.ec2()
    image = make_image(
        ec2,
        real_arch="arm64",
        tags={"Version": "2.1.0", "Edition": "enterprise", "Arch": "aarch64", "Fips": "yes"},
    )
    names = TagNames(version="Version", edition="Edition", arch="Arch", fips="Fips")
    values = TagValues(
        editions={"ent": "enterprise"}, archs={"arm64": "aarch64"}, fips_true="yes", fips_false="no"
    )

    resolved = find_release_amis(
        ec2, MOTO_ACCOUNT, "2.1.0", names, [EditionKey("ent", "arm64", True)], values
    )

    assert [(r.id, r.arch, r.edition, r.fips) for r in resolved] == [(image, "arm64", "ent", True)]


def test_only_the_owner_account_is_searched(commercial: AwsClients) -> None:
    ec2 = commercial.ec2()
    make_image(ec2, real_arch="arm64", tags=teleport_tags("17.0.1", "oss", "arm64", False))

    with pytest.raises(AmiNotFoundError) as err:
        find_release_amis(ec2, "146628656107", "17.0.1", TagNames(), [("oss", "arm64", False)])

    assert str(err.value).startswith("no AMI in account 146628656107 us-west-2 with ")
