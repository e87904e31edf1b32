"""The Pulumi program under Pulumi's own mocks: names, parents, providers, options, audit record."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_mirrors import regions
from artifact_mirrors.cli import app
from artifact_mirrors.plan import ResourceRecord
from components.mockrun import render
from tests.conftest import ROOT, edit

T_COPY = "aws:ec2/amiCopy:AmiCopy"
T_LP = "aws:ec2/amiLaunchPermission:AmiLaunchPermission"
T_TAG = "pulumi-python:dynamic/artifact-mirrors:ImageTag"
T_PROVIDER = "pulumi:providers:aws"
T_REVOKE = "pulumi-python:dynamic/artifact-mirrors:LaunchPermissionRevocation"


def plan_json(*args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, ["plan", "--stack", "prod", "--format", "json", *args])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def resources() -> list[ResourceRecord]:
    """The shipped project, rendered once for the read-only tests of this module."""
    return render(ROOT, "prod")


def test_urns_are_unique(resources: list[ResourceRecord]) -> None:
    counts = Counter(r.urn for r in resources)
    assert [u for u, n in counts.items() if n > 1] == []
    assert len(resources) > 1000


def test_urns_are_stable_across_renders(resources: list[ResourceRecord]) -> None:
    again = render(ROOT, "prod")
    assert sorted(r.urn for r in again) == sorted(r.urn for r in resources)
    first = {r.urn: r.inputs for r in resources}
    assert all(first[r.urn] == r.inputs for r in again)


T_TF_FILE = "pulumi-python:dynamic/artifact-mirrors:ProviderFile"
T_TF_DOC = "aws:s3/bucketObjectv2:BucketObjectv2"


def test_every_resource_has_a_parent_and_published_things_are_retained(
    resources: list[ResourceRecord],
) -> None:
    top_level = {r.urn.rsplit("::", 1)[-1] for r in resources if not r.parent}
    # Components and providers' parents only; nothing else hangs off the stack.
    assert top_level == {
        "15.1.6", "16.4.6", "17.5.3", "18.1.2", "18.6.6",
        "dockerhub", "quay", "ecr-public", "aws", "aws-us-gov", "terraform/teleport",
    }  # fmt: skip
    published = [r for r in resources if r.type in (T_COPY, T_LP, T_TAG, T_TF_FILE, T_TF_DOC)]
    assert {r.type for r in published} >= {T_TF_FILE, T_TF_DOC}
    assert published and all(r.retain_on_delete for r in published)


def test_release_15_1_6_amis_copy_to_17_regions_with_public_permission(
    resources: list[ResourceRecord],
) -> None:
    providers = {r.urn: r for r in resources if r.type == T_PROVIDER}
    copies = [r for r in resources if r.type == T_COPY and r.name.startswith("15.1.6/")]
    aws_copies = [c for c in copies if providers[c.provider].inputs["region"] in
                  regions.DEFAULT_COMMERCIAL_REGIONS]  # fmt: skip
    by_key = Counter(c.inputs["tags"]["mirror-edition"] for c in aws_copies)
    assert by_key == {
        k: 17
        for k in ("oss-x86_64", "oss-arm64", "ent-x86_64", "ent-arm64",
                  "ent-fips-x86_64", "ent-fips-arm64")
    }  # fmt: skip
    ids = {c.id for c in aws_copies}
    public = [r for r in resources if r.type == T_LP and r.inputs.get("imageId") in ids]
    assert len(public) == 6 * 17
    assert all(r.inputs["group"] == "all" for r in public)
    # Each permission is made by the same regional provider as the copy it shares.
    copy_provider = {c.id: c.provider for c in aws_copies}
    assert all(copy_provider[r.inputs["imageId"]] == r.provider for r in public)
    sample = next(c for c in aws_copies if c.name == "15.1.6/ent-fips-arm64@eu-west-3")
    assert sample.inputs["sourceAmiId"] == "ami-03fbff901f15b6821"
    assert sample.inputs["sourceAmiRegion"] == "us-east-1"
    assert sample.inputs["name"] == "teleport-ent-15.1.6-arm64-fips-20240305-141203UTC"
    assert sample.inputs["tags"]["mirror-of"] == "ami-03fbff901f15b6821@us-east-1"
    assert sample.inputs["description"].startswith("Mirror of Teleport 15.1.6 ent-fips-arm64")


def test_govcloud_resources_use_govcloud_providers_only(resources: list[ResourceRecord]) -> None:
    providers = {r.urn: r for r in resources if r.type == T_PROVIDER}
    gov = {u for u, p in providers.items() if p.inputs["region"].startswith("us-gov-")}
    assert {providers[u].name for u in gov} == {
        "aws-us-gov/us-gov-west-1",
        "aws-us-gov/us-gov-east-1",
    }
    assert all(providers[u].inputs["profile"] == "teleport-govcloud" for u in gov)
    for r in resources:
        if r.provider in gov:
            assert "@us-gov-" in r.name, r.urn
        elif r.type in (T_COPY, T_LP):
            assert "@us-gov-" not in r.name, r.urn
    # us-gov-west-1 is restored from S3 (transfer); us-gov-east-1 copies from it.
    east = next(
        r for r in resources if r.name == "15.1.6/oss-arm64@us-gov-east-1" and r.type == T_COPY
    )
    assert east.inputs["sourceAmiRegion"] == "us-gov-west-1"


def test_plan_json_acceptance_for_15_1_6(project: Path) -> None:
    plan = plan_json("--release", "15.1.6")
    (release,) = plan["releases"]
    assert release["version"] == "15.1.6"
    aws = [a for a in release["amis"] if a["partition"] == "aws"]
    assert len(aws) == 6 * 17
    assert all(a["launch_permissions"] == [
        {"kind": "group", "value": "all", "action": "grant"}] for a in aws)  # fmt: skip
    gov = [a for a in release["amis"] if a["partition"] == "aws-us-gov"]
    assert {(a["region"], a["method"]) for a in gov} == {
        ("us-gov-west-1", "transfer"), ("us-gov-east-1", "copy")}  # fmt: skip
    assert all(a["provider"] in (None, "aws-us-gov/us-gov-east-1") for a in gov)
    assert {t["registry"] for t in release["image_tags"]} == {"dockerhub", "quay", "ecr-public"}
    assert len(release["image_tags"]) == 11 * 3
    assert {t["repository"].split("/")[0] for t in release["image_tags"]} == {
        "docker.io", "quay.io", "public.ecr.aws"}  # fmt: skip


def test_adding_a_release_adds_only_its_entries_and_moves_floating_tags(project: Path) -> None:
    before = plan_json()
    before_urns = {r.urn for r in render(project, "prod")}
    new = (project / "mirrors/releases/18.6.6.yaml").read_text().replace("18.6.6", "18.6.7")
    (project / "mirrors/releases/18.6.7.yaml").write_text(new)
    after = plan_json()
    after_urns = {r.urn for r in render(project, "prod")}

    assert before_urns <= after_urns
    added = after_urns - before_urns
    assert all("18.6.7" in u for u in added)
    assert [r for r in after["releases"] if r["version"] != "18.6.7"] == before["releases"]
    assert after["repositories"] == before["repositories"]
    moved = {
        (f["repository"], f["tag"]): f["release"]
        for f in after["floating_tags"]
        if f not in before["floating_tags"]
    }
    assert set(moved.values()) == {"18.6.7"}
    assert {tag for _, tag in moved} == {"18", "18.6", "latest"}
    assert len(moved) == 3 * 11 * 3
    assert len(after["floating_tags"]) == len(before["floating_tags"])


def test_yanked_release_is_unpublished_everywhere(project: Path) -> None:
    edit(project / "mirrors/releases/18.6.6.yaml", "channel: stable",
         "channel: stable\nyanked: true\nreason: CVE-2099-0001 in tsh")  # fmt: skip
    plan = plan_json()
    (r,) = [r for r in plan["releases"] if r["version"] == "18.6.6"]
    assert r["yanked"] is True and r["reason"] == "CVE-2099-0001 in tsh"
    assert {t["action"] for t in r["image_tags"]} == {"unpublish"}
    perms = [p for a in r["amis"] for p in a["launch_permissions"]]
    assert perms and {p["action"] for p in perms} == {"revoke"}
    # Floating tags fall back to the newest release that is not yanked.
    latest = [f for f in plan["floating_tags"] if f["tag"] == "latest"]
    assert {f["release"] for f in latest} == {"18.1.2"}
    assert plan["summary"]["revocations"] == len(perms) == 2 * 19


def test_yank_revocations_are_separate_resources(project: Path) -> None:
    edit(project / "mirrors/releases/17.5.3.yaml", "channel: stable",
         "channel: stable\nyanked: true\nreason: bad build")  # fmt: skip
    resources = render(project, "prod")
    revocations = [r for r in resources if r.type == T_REVOKE]
    assert len(revocations) == 2 * 19
    assert not [r for r in resources if r.type == T_LP and r.name.startswith("17.5.3/")]
    # Copies stay declared (and retained): the yank makes them private, it doesn't delete them.
    assert len([r for r in resources if r.type == T_COPY and r.name.startswith("17.5.3/")]) == 36


def test_no_credentials_in_resource_inputs(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKERHUB_TOKEN", "dckr_pat_SECRET")
    text = json.dumps([r.inputs for r in render(project, "prod")], default=str)
    assert "dckr_pat_SECRET" not in text
    assert '"password_env": "DOCKERHUB_TOKEN"' in text
