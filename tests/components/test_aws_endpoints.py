"""A local stack points pulumi-aws at MIRRORS_AWS_ENDPOINT_URL, and the plan shows it (7.10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artifact_mirrors.aws.session import ENDPOINT_ENV
from artifact_mirrors.plan import build_plan
from components.mockrun import render
from tests.conftest import edit

T_PROVIDER = "pulumi:providers:aws"
MOTO = "http://127.0.0.1:5000"
SERVICES = ("ec2", "ecr", "ecrpublic", "s3", "sts")
LOCAL_KEYS = (
    "endpoints",
    "s3UsePathStyle",
    "skipMetadataApiCheck",
    "skipRequestingAccountId",
)


def partition_providers(project: Path) -> dict[str, dict[str, str]]:
    """name -> inputs of the AMI partitions' providers (aws/<region>, aws-us-gov/<region>)."""
    return {
        r.name: r.inputs
        for r in render(project, "prod")
        if r.type == T_PROVIDER and r.name.startswith("aws")
    }


def test_every_partition_provider_gets_the_endpoint(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, MOTO)
    providers = partition_providers(project)
    assert len(providers) == 17 + 2
    for inputs in providers.values():
        # Provider config travels as strings on the wire: lists are JSON, booleans "true".
        assert json.loads(inputs["endpoints"]) == [dict.fromkeys(SERVICES, MOTO)]
        assert inputs["skipCredentialsValidation"] == "true"
        assert inputs["skipMetadataApiCheck"] == "true"
        assert inputs["s3UsePathStyle"] == "true"
        # No partition of the shipped spec pins an account: nothing needs the account id.
        assert inputs["skipRequestingAccountId"] == "true"


def test_a_pinned_account_is_still_requested_for_allowed_account_ids(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, MOTO)
    edit(project / "mirrors/destinations.yaml", "    aws:\n      profile: teleport-mirrors\n",
         '    aws:\n      profile: teleport-mirrors\n      account: "123456789012"\n')  # fmt: skip
    inputs = partition_providers(project)["aws/eu-west-3"]
    assert inputs["allowedAccountIds"] == '["123456789012"]'
    assert inputs["skipRequestingAccountId"] == "false"


def test_production_providers_get_no_local_settings(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    for inputs in partition_providers(project).values():
        assert not set(LOCAL_KEYS) & set(inputs)
        assert inputs["skipCredentialsValidation"] == "false"  # pulumi-aws's default


def test_plan_json_shows_the_endpoint(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, MOTO)
    plan = build_plan("prod", render(project, "prod"))
    rows = {p["name"]: p for p in plan["providers"]}
    assert rows["aws-us-gov/us-gov-west-1"] == {
        "name": "aws-us-gov/us-gov-west-1",
        "partition": "aws-us-gov",
        "region": "us-gov-west-1",
        "profile": "teleport-govcloud",
        "endpoint": MOTO,
        "urn": "urn:pulumi:prod::artifact-mirrors::artifact-mirrors:index:AwsPartition$"
        "pulumi:providers:aws::aws-us-gov/us-gov-west-1",
    }
    assert {p["endpoint"] for n, p in rows.items() if n.startswith("aws")} == {MOTO}
    monkeypatch.delenv(ENDPOINT_ENV)
    plan = build_plan("prod", render(project, "prod"))
    assert {p["endpoint"] for p in plan["providers"]} == {None}
