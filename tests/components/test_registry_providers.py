"""ECR / ECR Public repositories are made with their registry's own AWS provider (under mocks).

Before: they used the AMI partition's provider for the region (its profile and
allowed_account_ids), or the ambient default provider when the spec has no ``amis:``, while the
pushes used the registry's ``credentials.profile``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artifact_mirrors.aws.session import ENDPOINT_ENV
from artifact_mirrors.plan import ResourceRecord
from components.mockrun import render
from tests.conftest import edit

T_PROVIDER = "pulumi:providers:aws"
T_ECR_PUBLIC = "aws:ecrpublic/repository:Repository"
T_ECR = "aws:ecr/repository:Repository"
REGISTRY_URN = "urn:pulumi:prod::artifact-mirrors::artifact-mirrors:index:RegistryMirror"
ECR_REGISTRY = """  - name: ecr
    kind: ecr
    host: 210987654321.dkr.ecr.eu-central-1.amazonaws.com
    region: eu-central-1
    namespace: teleport-mirror
    credentials: {from: aws, profile: ecr-pusher}
"""


def providers(resources: list[ResourceRecord]) -> dict[str, ResourceRecord]:
    return {r.urn: r for r in resources if r.type == T_PROVIDER}


def ecr_only_spec(project: Path) -> dict[str, str]:
    """The shipped spec without ``amis:`` and with a private ECR registry added."""
    text = (project / "mirrors/destinations.yaml").read_text()
    head = text[: text.index("\namis:")] + "\n"
    head = head.replace("\nimages:\n", "\n" + ECR_REGISTRY + "\nimages:\n", 1)
    head = head.replace(
        "registries: [dockerhub, quay, ecr-public]", "registries: [dockerhub, ecr-public, ecr]"
    )
    (project / "mirrors/ecr-only.yaml").write_text(head)
    images_only = project / "mirrors/releases-images-only"
    images_only.mkdir()
    for manifest in sorted((project / "mirrors/releases").glob("*.yaml")):
        text = manifest.read_text()
        # Images only: no AMIs, no Terraform providers (the spec above has neither).
        text = text.split("\nterraform_providers:", 1)[0]
        (images_only / manifest.name).write_text(text.split("\namis:", 1)[0] + "\n")
    return {
        "artifact-mirrors:spec": "mirrors/ecr-only.yaml",
        "artifact-mirrors:releasesDir": "mirrors/releases-images-only",
    }


def test_ecr_public_repositories_use_the_registrys_profile(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    edit(
        project / "mirrors/destinations.yaml",
        "credentials: {from: aws, profile: teleport-mirrors}",
        "credentials: {from: aws, profile: ecr-public-pusher}",
    )
    resources = render(project, "prod")
    provs = providers(resources)
    repos = [r for r in resources if r.type == T_ECR_PUBLIC]
    assert len(repos) == 14  # 11 images and the shipped spec's 3 Helm charts
    assert {r.provider for r in repos} == {
        f"{REGISTRY_URN}$pulumi:providers:aws::registry/ecr-public/aws"
    }
    provider = provs[repos[0].provider]
    assert provider.parent == f"{REGISTRY_URN}::ecr-public"
    assert (provider.inputs["profile"], provider.inputs["region"]) == (
        "ecr-public-pusher",
        "us-east-1",
    )
    # Not the AMI partition's account restriction, and no endpoint override in production.
    assert "allowedAccountIds" not in provider.inputs
    assert "endpoints" not in provider.inputs
    partition = provs[
        "urn:pulumi:prod::artifact-mirrors::artifact-mirrors:index:AwsPartition"
        "$pulumi:providers:aws::aws/us-east-1"
    ]
    assert partition.inputs["profile"] == "teleport-mirrors"


def test_without_amis_ecr_and_ecr_public_get_their_own_providers(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:5999")
    resources = render(project, "prod", ecr_only_spec(project))
    provs = providers(resources)
    # No AMI partition at all: the only AWS providers are the registries' own.
    assert sorted(p.name for p in provs.values()) == ["registry/ecr-public/aws", "registry/ecr/aws"]
    ecr_repos = [r for r in resources if r.type == T_ECR]
    assert len(ecr_repos) == 11
    assert len({r.provider for r in ecr_repos}) == 1
    ecr_provider = provs[ecr_repos[0].provider]
    assert ecr_provider.parent == f"{REGISTRY_URN}::ecr"
    # Provider inputs reach the engine as strings (lists and objects JSON-encoded).
    assert {k: ecr_provider.inputs[k] for k in ("profile", "region", "allowedAccountIds")} == {
        "profile": "ecr-pusher",
        "region": "eu-central-1",
        "allowedAccountIds": '["210987654321"]',
    }
    endpoint = "http://127.0.0.1:5999"
    assert json.loads(ecr_provider.inputs["endpoints"]) == [
        {"ec2": endpoint, "ecr": endpoint, "ecrpublic": endpoint, "s3": endpoint, "sts": endpoint}
    ]
    # The same local-endpoint arguments as the partitions' providers; the account is requested
    # because allowed_account_ids is set.
    assert {k: ecr_provider.inputs[k] for k in ("skipRequestingAccountId", "s3UsePathStyle")} == {
        "skipRequestingAccountId": "false",
        "s3UsePathStyle": "true",
    }
    public_repos = [r for r in resources if r.type == T_ECR_PUBLIC]
    assert len(public_repos) == 11 and len({r.provider for r in public_repos}) == 1
    public_provider = provs[public_repos[0].provider]
    assert (public_provider.inputs["profile"], public_provider.inputs["region"]) == (
        "teleport-mirrors",
        "us-east-1",
    )
