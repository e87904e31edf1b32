"""The AMI name of each copy generation (issue 7.4): distinct, deterministic, within EC2's rules."""

from __future__ import annotations

import re

from artifact_mirrors.naming import AMI_NAME_MAX, ami_copy_name

BASE = "teleport-ent-15.1.6-arm64-fips-20240305-141203UTC"
KEY = "arn:aws:kms:eu-west-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"
AMI_NAME = re.compile(r"^[a-zA-Z0-9().\-/_ ]{3,128}$")


def test_default_generation_keeps_the_source_name() -> None:
    assert ami_copy_name(BASE, False, None) == BASE


def test_encrypted_generations_are_suffixed_by_their_key() -> None:
    # sha256("default")[:8] and sha256(KEY)[:8]: fixed, so a re-run names the copy the same.
    assert ami_copy_name(BASE, True, None) == f"{BASE}-enc-37a8eec1"
    assert ami_copy_name(BASE, True, KEY) == f"{BASE}-enc-f782b597"
    # A key without `encrypted` still encrypts (EC2 requires Encrypted with KmsKeyId).
    assert ami_copy_name(BASE, False, KEY) == f"{BASE}-enc-f782b597"


def test_long_names_are_cut_to_fit_and_stay_valid() -> None:
    base = "t" * AMI_NAME_MAX
    name = ami_copy_name(base, True, KEY)
    assert name == "t" * (AMI_NAME_MAX - 13) + "-enc-f782b597"
    assert len(name) == AMI_NAME_MAX
    assert AMI_NAME.match(name)
    assert AMI_NAME.match(ami_copy_name(BASE, True, None))
