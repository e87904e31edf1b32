"""Every update a release engineer makes, on the shipped Teleport spec, as the engine would run it.

Each test renders an edited copy of mirrors/ under mocks and computes the step plan from the
shipped render (see artifact_mirrors.steps), deciding dynamic resources with their providers'
own Check and Diff twice: in-process and through the real provider server (the two must agree).
The shipped spec: 5 releases, 11 images x 3 registries, 12 source AMIs (15.1.6 has 6), each
copied to 17 commercial regions and transferred/copied to 2 GovCloud regions, public.
"""

from __future__ import annotations

import hashlib
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from artifact_mirrors.regions import DEFAULT_COMMERCIAL_REGIONS, OPT_IN_COMMERCIAL_REGIONS
from artifact_mirrors.steps import Op, State

from .conftest import PlanOf, Scenario, counts, deleted, kind

DESTINATIONS = "mirrors/destinations.yaml"
AWS_BPA = (
    "      block_public_access: check  # fail in preview when a region blocks public sharing\n"
)


def by_urn(states: list[State]) -> dict[str, State]:
    return {s.urn: s for s in states}


def add_release(scenario: Scenario, version: str = "18.6.7") -> None:
    """A copy of 18.6.6 as ``version``, with its own (fake) digests and AMI ids."""
    text = (scenario.root / "mirrors/releases/18.6.6.yaml").read_text(encoding="utf-8")
    text = text.replace("18.6.6", version)
    text = re.sub(
        r"sha256:[0-9a-f]{64}",
        lambda m: "sha256:" + hashlib.sha256(m.group(0).encode()).hexdigest(),
        text,
    )
    text = re.sub(
        r"ami-[0-9a-f]{17}",
        lambda m: "ami-" + hashlib.sha256(m.group(0).encode()).hexdigest()[:17],
        text,
    )
    (scenario.root / f"mirrors/releases/{version}.yaml").write_text(text, encoding="utf-8")


def yank(scenario: Scenario, version: str = "15.1.6") -> None:
    scenario.edit(
        f"mirrors/releases/{version}.yaml",
        "channel: stable\n",
        "channel: stable\nyanked: true\nreason: recalled (CVE-2026-0001)\n",
    )


def test_a_sixth_release_only_creates_its_resources_and_moves_floating_tags(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    add_release(scenario)
    plan = plan_of(base, scenario.render())

    assert counts(plan) == {
        ("create", "ImageTag"): 33,  # 11 images x 3 registries
        ("create", "ChartTag"): 3,  # 3 Helm charts x ECR Public
        ("create", "AmiCopy"): 36,  # 2 AMIs x (17 regions + us-gov-east-1)
        ("create", "AmiTransfer"): 2,  # 2 AMIs -> us-gov-west-1
        ("create", "AmiLaunchPermission"): 38,  # 2 AMIs x 19 regions, public
        ("update", "ImageTag"): 99,  # 18, 18.6, latest x 11 images x 3 registries
        # The Terraform provider: 4 platforms x (zip, sums, sig) x 2 destinations, and 5
        # documents (4 download documents, 1 network mirror VERSION.json)
        ("create", "ProviderFile"): 24,
        ("create", "BucketObjectv2"): 5,
        # The Terraform provider's two index documents list the versions, and CloudFront
        # invalidates them once.
        ("update", "BucketObjectv2"): 2,
        ("update", "CloudFrontInvalidation"): 1,
    }
    new = by_urn(scenario.render())
    assert all("18.6.7" in s.name for s in plan.of(Op.create))
    for step in plan.of(Op.update):
        if kind(step.type) != "ImageTag":
            continue
        assert new[step.urn].inputs["floating"] is True
        assert new[step.urn].inputs["release"] == "18.6.7"
        assert set(step.keys) <= {"source", "digest", "release"}, step
    assert deleted(plan) == []


def test_yanking_15_1_6_unpublishes_tags_revokes_grants_and_deletes_no_ami(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    yank(scenario)
    new = scenario.render()
    plan = plan_of(base, new)

    assert counts(plan) == {
        # 33 release tags + 66 floating tags (15, 15.1: no other 15.x release to move back to)
        ("update", "ImageTag"): 99,
        ("update", "ChartTag"): 3,  # its 3 Helm chart tags unpublished
        # 6 AMIs x 19 regions: each retained grant is forgotten and revoked explicitly
        ("forget", "AmiLaunchPermission"): 114,
        ("create", "LaunchPermissionRevocation"): 114,
        # The Terraform provider's two index documents list the versions, and CloudFront
        # invalidates them once.
        ("update", "BucketObjectv2"): 2,
        ("update", "CloudFrontInvalidation"): 1,
    }
    news = by_urn(new)
    for step in plan.of(Op.update):
        if kind(step.type) not in ("ImageTag", "ChartTag"):
            continue
        assert step.keys == ("published",), step
        assert news[step.urn].inputs["published"] is False
        assert news[step.urn].inputs["release"] == "15.1.6"
    assert not [s for s in plan.changes() if kind(s.type) in ("AmiCopy", "AmiTransfer")]
    assert deleted(plan) == []


def test_yank_also_revokes_every_snapshot_permission(scenario: Scenario, plan_of: PlanOf) -> None:
    scenario.edit(
        DESTINATIONS,
        "      launch_permissions: {public: true}\n      block_public_access: check  # fail",
        "      launch_permissions: {public: true, accounts: ['123456789012'],"
        " snapshot_create_volume: true}\n      block_public_access: check  # fail",
    )
    shared = scenario.render()
    yank(scenario)
    plan = plan_of(shared, scenario.render())

    assert counts(plan) == {
        ("update", "ImageTag"): 99,
        ("update", "ChartTag"): 3,
        # 6 AMIs x (17 regions x 2 grants + 2 GovCloud regions x 1)
        ("forget", "AmiLaunchPermission"): 216,
        ("create", "LaunchPermissionRevocation"): 216,
        # 6 AMIs x 17 commercial copies x 1 account
        ("forget", "SnapshotCreateVolumePermission"): 102,
        ("create", "SnapshotPermissionRevocation"): 102,
        # The Terraform provider's two index documents list the versions, and CloudFront
        # invalidates them once.
        ("update", "BucketObjectv2"): 2,
        ("update", "CloudFrontInvalidation"): 1,
    }
    assert deleted(plan) == []


def test_un_yanking_grants_again_and_drops_the_revocation_records(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    yank(scenario)
    plan = plan_of(scenario.render(), base)

    assert counts(plan) == {
        ("update", "ImageTag"): 99,
        ("update", "ChartTag"): 3,  # published again
        ("create", "AmiLaunchPermission"): 114,
        # Deleting a revocation record touches no image (its provider's delete is a no-op).
        ("delete", "LaunchPermissionRevocation"): 114,
        # The Terraform provider's two index documents list the versions, and CloudFront
        # invalidates them once.
        ("update", "BucketObjectv2"): 2,
        ("update", "CloudFrontInvalidation"): 1,
    }
    assert {kind(s.type) for s in plan.of(Op.delete)} == {"LaunchPermissionRevocation"}


def test_removing_a_manifest_forgets_everything_and_unpublishes_nothing(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    scenario.remove("mirrors/releases/15.1.6.yaml")
    plan = plan_of(base, scenario.render())

    assert counts(plan) == {
        ("forget", "ImageTag"): 99,  # 33 release tags + 66 floating tags 15, 15.1
        ("forget", "ChartTag"): 3,  # its Helm chart tags stay published (retained)
        ("forget", "AmiCopy"): 108,  # 6 AMIs x 18
        ("forget", "AmiTransfer"): 6,
        ("forget", "AmiLaunchPermission"): 114,
        # The provider version's files and documents stay (forgotten, retained); only the index
        # documents, rebuilt from the manifests, stop listing it (README: Terraform providers).
        ("forget", "ProviderFile"): 24,
        ("forget", "BucketObjectv2"): 5,
        ("update", "BucketObjectv2"): 2,
        ("update", "CloudFrontInvalidation"): 1,
    }
    assert deleted(plan) == []


def test_adding_a_region_copies_every_release_there(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    region = OPT_IN_COMMERCIAL_REGIONS[0]
    regions = ", ".join((*DEFAULT_COMMERCIAL_REGIONS, region))
    scenario.edit(
        DESTINATIONS,
        "      # regions: default = the 17 regions enabled in every account\n",
        f"      regions: [{regions}]\n",
    )
    plan = plan_of(base, scenario.render())

    assert counts(plan) == {
        ("create", "aws"): 1,  # the region's provider
        ("create", "AmiCopy"): 12,  # every source AMI of every release
        ("create", "AmiLaunchPermission"): 12,
    }
    assert all(region in s.name for s in plan.of(Op.create))
    assert deleted(plan) == []


def test_adding_a_registry_creates_its_tags_and_removing_one_forgets_them(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    scenario.edit(
        DESTINATIONS,
        "registries:\n",
        "registries:\n  - name: harbor\n    kind: oci\n    host: harbor.example.com\n"
        "    namespace: teleport\n",
    )
    scenario.edit(
        DESTINATIONS,
        "registries: [dockerhub, quay, ecr-public]",
        "registries: [dockerhub, quay, ecr-public, harbor]",
    )
    added = scenario.render()
    plan = plan_of(base, added)
    # 5 releases x 11 images, and 4 floating tags per image (15, 15.1, ... latest): 11 x 10 in all
    assert counts(plan) == {("create", "ImageTag"): 55 + 110}
    assert all(s.name.startswith("harbor/") for s in plan.of(Op.create) if s.custom)

    plan = plan_of(added, base)
    assert counts(plan) == {("forget", "ImageTag"): 165}
    assert deleted(plan) == []


def test_removing_quay_forgets_its_tags_and_repositories(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    scenario.edit(
        DESTINATIONS,
        "registries: [dockerhub, quay, ecr-public]",
        "registries: [dockerhub, ecr-public]",
    )
    plan = plan_of(base, scenario.render())

    assert counts(plan) == {("forget", "ImageTag"): 165, ("forget", "MirrorRepository"): 11}
    assert deleted(plan) == []


SHARE_WITH_ACCOUNT = (
    "      launch_permissions: {public: true}\n" + AWS_BPA,
    "      launch_permissions: {accounts: ['123456789012']}\n" + AWS_BPA,
)


def test_encryption_replaces_the_copies_under_new_names_and_keeps_the_old_ones(
    scenario: Scenario, plan_of: PlanOf
) -> None:
    # Encrypted AMIs cannot be public (the spec refuses it): share the commercial ones with an
    # account, as an encrypted stack would.
    scenario.edit(DESTINATIONS, *SHARE_WITH_ACCOUNT)
    shared = scenario.render()
    scenario.edit(DESTINATIONS, AWS_BPA, AWS_BPA + "      encrypted: true\n")
    encrypted = scenario.render()
    plan = plan_of(shared, encrypted)

    assert counts(plan) == {
        ("replace", "AmiCopy"): 12 * 17 + 12,  # commercial copies, and GovCloud's from them
        ("replace", "AmiTransfer"): 12,  # its source (the us-west-2 copy) is new
        ("replace", "AmiLaunchPermission"): 12 * 19,  # image_id of a new copy
    }
    olds, news = by_urn(shared), by_urn(encrypted)
    for step in plan.of(Op.replace):
        assert step.retained_old, step  # nothing published is deleted: the old AMIs stay
        if kind(step.type) == "AmiCopy":
            assert news[step.urn].inputs["name"] != olds[step.urn].inputs["name"], step.urn
    commercial = [s for s in plan.of(Op.replace) if "encrypted" in s.keys]
    assert len(commercial) == 12 * 17
    assert deleted(plan) == []


def test_block_public_access_manage_adds_one_setting_per_region_and_changes_nothing_else(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    scenario.edit(DESTINATIONS, AWS_BPA, AWS_BPA.replace("check", "manage"))
    new = scenario.render()
    plan = plan_of(base, new)

    assert counts(plan) == {("create", "ImageBlockPublicAccess"): 17}
    # The public grants wait for the unblock (a grant while blocked fails).
    news = by_urn(new)
    bpa = {s.urn for s in plan.of(Op.create)}
    grants = [s for s in new if kind(s.type) == "AmiLaunchPermission" and "aws/" in s.provider]
    grants = [g for g in grants if "aws-us-gov/" not in g.provider]
    assert grants
    assert all(bpa.intersection(news[g.urn].depends_on) for g in grants)


def test_changing_a_registry_credential_source_is_an_update_and_copies_nothing(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    scenario.edit(
        DESTINATIONS,
        "credentials: {from: env, username_env: DOCKERHUB_USERNAME, password_env: DOCKERHUB_TOKEN}",
        "credentials: {from: stack-config, config_key: dockerhub}",
    )
    plan = plan_of(base, scenario.render())

    changed = counts(plan)
    assert set(changed) == {("update", "ImageTag"), ("update", "MirrorRepository")}
    assert changed[("update", "MirrorRepository")] == 11
    assert changed[("update", "ImageTag")] == 55 + 110  # every dockerhub tag records the source
    for step in plan.of(Op.update):
        assert step.name.startswith("dockerhub/")
        assert not {"source", "digest", "tag", "repository"} & set(step.keys), step


def test_a_required_signature_policy_is_an_update_of_every_tag_that_copies_nothing(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    # Issue 12: the policy travels in every ImageTag's inputs (public key PEM and fingerprint);
    # recording it copies nothing, and it gates every copy from then on.
    keys = scenario.root / "mirrors/keys"
    keys.mkdir()
    (keys / "cosign.pub").write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    scenario.edit(
        DESTINATIONS,
        "    signatures: true ",
        "    verify: {required: true, keys: [keys/cosign.pub]}\n    signatures: true ",
    )
    plan = plan_of(base, scenario.render())

    assert counts(plan) == {("update", "ImageTag"): 165 + 330}
    for step in plan.of(Op.update):
        assert step.keys == ("verify",), step
