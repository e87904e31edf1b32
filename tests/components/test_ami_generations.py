"""Each AMI copy generation has its own AMI name (issue 7.4).

Turning on ``encrypted`` or changing a KMS key replaces the AmiCopy (and, through its source,
the GovCloud AmiTransfer) while the old copy is retained under its name: the new generation must
be named differently or EC2 refuses it (InvalidAMIName.Duplicate).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from artifact_mirrors.plan import ResourceRecord
from components.mockrun import render
from tests.conftest import edit

T_COPY = "aws:ec2/amiCopy:AmiCopy"
T_TRANSFER = "pulumi-python:dynamic/artifact-mirrors:AmiTransfer"
BASE = "teleport-ent-15.1.6-arm64-fips-20240305-141203UTC"
DEFAULT_KEY = "-enc-37a8eec1"  # sha256("default")[:8]: the account's default EBS key
EU_KEY = "arn:aws:kms:eu-west-3:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EU_SUFFIX = "-enc-075d0cd8"  # sha256(EU_KEY)[:8]
COMMERCIAL = "    aws:\n      profile: teleport-mirrors\n"
PUBLIC = "      launch_permissions: {public: true}\n      block_public_access: check  # fail in"
# Encrypted AMIs cannot be public (the spec refuses it): share with an account instead.
SHARED = (
    "      launch_permissions: {accounts: ['111122223333']}\n      block_public_access: check  #"
)
GOV = "    aws-us-gov:\n      profile: teleport-govcloud  # GovCloud"


def names(resources: list[ResourceRecord]) -> dict[str, str]:
    """Logical name -> AMI name of every copy and transfer."""
    return {r.name: r.inputs["name"] for r in resources if r.type in (T_COPY, T_TRANSFER)}


def encrypt(project: Path, extra: str = "") -> None:
    spec = project / "mirrors/destinations.yaml"
    edit(spec, COMMERCIAL, COMMERCIAL + "      encrypted: true\n" + extra)
    edit(spec, PUBLIC, SHARED)


def test_encrypting_renames_every_copy_and_the_govcloud_chain(project: Path) -> None:
    before = names(render(project, "prod"))
    encrypt(project)
    after = names(render(project, "prod"))
    assert before.keys() == after.keys()
    assert before["15.1.6/ent-fips-arm64@eu-west-3"] == BASE
    assert after["15.1.6/ent-fips-arm64@eu-west-3"] == BASE + DEFAULT_KEY
    # GovCloud restores the encrypted us-west-2 copy: a new source, so a new name too, and the
    # us-gov-east-1 copy of it is named after the restored AMI.
    assert before["15.1.6/ent-fips-arm64@us-gov-west-1/transfer"] == BASE
    assert after["15.1.6/ent-fips-arm64@us-gov-west-1/transfer"] == BASE + DEFAULT_KEY
    assert after["15.1.6/ent-fips-arm64@us-gov-east-1"] == BASE + DEFAULT_KEY
    changed = [n for n in before if before[n] != after[n]]
    # The shipped manifests pin 12 release AMIs, each mirrored to 17 regions + 2 GovCloud.
    assert len(changed) == len(before) == 12 * (17 + 2)


def test_a_kms_key_renames_only_that_regions_copies(project: Path) -> None:
    encrypt(project)
    before = names(render(project, "prod"))
    encrypt_key = f"      kms_keys: {{eu-west-3: '{EU_KEY}'}}\n"
    edit(project / "mirrors/destinations.yaml", "      encrypted: true\n",
         "      encrypted: true\n" + encrypt_key)  # fmt: skip
    after = names(render(project, "prod"))
    changed = {n for n in before if before[n] != after[n]}
    assert {n.split("@")[1] for n in changed} == {"eu-west-3"}
    assert len(changed) == 12
    assert after["15.1.6/ent-fips-arm64@eu-west-3"] == BASE + EU_SUFFIX


def test_encrypted_govcloud_copies_add_their_own_generation(project: Path) -> None:
    encrypt(project)
    spec = project / "mirrors/destinations.yaml"
    edit(spec, GOV, "    aws-us-gov:\n      encrypted: true\n" + GOV.split("\n", 1)[1])
    gov_public = "      launch_permissions: {public: true}\n      block_public_access: check\n"
    edit(spec, gov_public, gov_public.replace("{public: true}", "{accounts: ['111122223333']}"))
    after = names(render(project, "prod"))
    assert after["15.1.6/ent-fips-arm64@us-gov-west-1/transfer"] == BASE + DEFAULT_KEY
    assert after["15.1.6/ent-fips-arm64@us-gov-east-1"] == BASE + DEFAULT_KEY + DEFAULT_KEY


def test_ami_names_are_unique_per_region(project: Path) -> None:
    encrypt(project)
    resources = render(project, "prod")
    per_region = Counter(
        (r.provider or r.inputs["destination_region"], r.inputs["name"])
        for r in resources
        if r.type in (T_COPY, T_TRANSFER)
    )
    assert per_region and set(per_region.values()) == {1}
