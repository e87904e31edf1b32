"""The supported-release window as step plans of an update from the unbounded shipped stack.

The shipped spec has 5 releases: 15.1.6, 16.4.6, 17.5.3, 18.1.2, 18.6.6 (each 33 image tags;
15.1.6 has 6 source AMIs, 18.1.2 none, the others 2; each AMI is 17 commercial copies, 1
GovCloud copy and 1 transfer, 19 launch permissions). Every test renders an edited copy and
decides the update with the providers' own Check and Diff, in-process and through the real
provider server.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from artifact_mirrors.archive import render_record
from artifact_mirrors.steps import Op, State, StepPlan
from components import mockrun

from .conftest import STACK, PlanOf, Scenario, counts, deleted, kind
from .test_scenarios import add_release, by_urn, yank

DESTINATIONS = "mirrors/destinations.yaml"


def window(scenario: Scenario, majors: int, patches: int, extra: str = "") -> None:
    with (scenario.root / DESTINATIONS).open("a", encoding="utf-8") as fh:
        fh.write(f"window: {{majors: {majors}, patches: {patches}{extra}}}\n")


def releases_in(states: list[State]) -> list[str]:
    return sorted(
        {s.name for s in states if s.type == "artifact-mirrors:index:ReleaseMirror"},
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )


def forgotten_releases(plan: StepPlan) -> Counter[str]:
    """Release -> provider resources the update forgets (floating tags: 'floating')."""
    out: Counter[str] = Counter()
    for s in plan.of(Op.forget):
        if not s.custom:
            continue
        if s.name.startswith("terraform/"):  # a provider version's files and documents
            out["terraform"] += 1
        elif kind(s.type) in ("ImageTag", "ChartTag"):  # REGISTRY/REPOSITORY:TAG (release/floating)
            tag = s.name.rsplit(":", 1)[1]
            out[tag if tag.count(".") == 2 else "floating"] += 1
        else:  # VERSION/EDITION@...
            out[s.name.split("/", 1)[0]] += 1
    return out


# 15.1.6: 33 tags + 3 chart tags + 6 AMIs x (18 copies + 1 transfer + 19 grants); 18.1.2 pins
# images and charts only. The 3 chart tags per release: the shipped spec's Helm charts.
RETIRED_15_1_6 = 33 + 3 + 6 * 38
RETIRED_18_1_2 = 33 + 3
# A retired release's Terraform provider version: 4 platforms x 3 files x 2 destinations and 5
# documents, forgotten (retained); the index documents keep listing it.
RETIRED_TF = 29


def test_three_majors_one_patch_forgets_the_rest_and_unpublishes_nothing(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    window(scenario, majors=3, patches=1)
    new = scenario.render()
    plan = plan_of(base, new)

    assert releases_in(new) == ["16.4.6", "17.5.3", "18.6.6"]
    assert forgotten_releases(plan) == {
        "15.1.6": RETIRED_15_1_6,
        "18.1.2": RETIRED_18_1_2,
        # 15, 15.1 and 18.1 x 11 images x 3 registries: no release of theirs in the window, so
        # they stay where they point, out of the program
        "floating": 99,
        "terraform": 2 * RETIRED_TF,
    }
    assert {op for op, _ in counts(plan)} == {"forget"}
    assert deleted(plan) == []
    # Floating tags that stay point where they did (18, 18.6, latest -> 18.6.6).
    assert not plan.of(Op.update)


def test_a_release_exactly_at_the_edge_stays_until_the_next_one(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    window(scenario, majors=4, patches=2)
    assert plan_of(base, scenario.render()).changes() == ()  # 18.1.2 is the 2nd of 18: kept

    add_release(scenario, "18.6.7")
    plan = plan_of(base, scenario.render())

    assert forgotten_releases(plan) == {
        "18.1.2": RETIRED_18_1_2,
        "floating": 33,
        "terraform": RETIRED_TF,
    }  # 18.1
    assert counts(plan) == {
        ("forget", "ImageTag"): 33 + 33,
        ("create", "ImageTag"): 33,
        # 18.6.7's 3 Helm chart tags in, 18.1.2's forgotten (retained)
        ("create", "ChartTag"): 3,
        ("forget", "ChartTag"): 3,
        ("create", "AmiCopy"): 36,
        ("create", "AmiTransfer"): 2,
        ("create", "AmiLaunchPermission"): 38,
        ("update", "ImageTag"): 99,  # 18, 18.6, latest move to 18.6.7
        # 18.6.7's provider version in, 18.1.2's forgotten (retained, still listed); the index
        # documents list 18.6.7 too, and CloudFront invalidates them
        ("create", "ProviderFile"): 24,
        ("create", "BucketObjectv2"): 5,
        ("forget", "ProviderFile"): 24,
        ("forget", "BucketObjectv2"): 5,
        ("update", "BucketObjectv2"): 2,
        ("update", "CloudFrontInvalidation"): 1,
    }
    assert deleted(plan) == []


def test_a_new_major_enters_and_the_oldest_leaves(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    window(scenario, majors=4, patches=5)
    add_release(scenario, "19.0.0")
    plan = plan_of(base, scenario.render())

    assert forgotten_releases(plan) == {
        "15.1.6": RETIRED_15_1_6,
        "floating": 66,
        "terraform": RETIRED_TF,
    }
    assert all(
        "19.0.0" in s.name or kind(s.type) in ("ImageTag", "ChartTag") for s in plan.of(Op.create)
    )
    assert Counter(kind(s.type) for s in plan.of(Op.create) if s.custom) == {
        "ImageTag": 33 + 66,  # 19.0.0's tags, and the new floating tags 19 and 19.0
        "ChartTag": 3,  # 19.0.0's Helm charts
        "AmiCopy": 36,
        "AmiTransfer": 2,
        "AmiLaunchPermission": 38,
        "ProviderFile": 24,  # 19.0.0's provider version
        "BucketObjectv2": 5,
    }
    assert deleted(plan) == []


def test_a_pinned_release_stays(base: list[State], scenario: Scenario, plan_of: PlanOf) -> None:
    window(scenario, majors=3, patches=1)
    scenario.edit(
        "mirrors/releases/15.1.6.yaml", "channel: stable\n", "channel: stable\npinned: true\n"
    )
    new = scenario.render()
    plan = plan_of(base, new)

    assert releases_in(new) == ["15.1.6", "16.4.6", "17.5.3", "18.6.6"]
    assert forgotten_releases(plan) == {
        "18.1.2": RETIRED_18_1_2,
        "floating": 33,
        "terraform": RETIRED_TF,
    }
    assert deleted(plan) == []


def test_a_pin_in_the_spec_stays(base: list[State], scenario: Scenario, plan_of: PlanOf) -> None:
    window(scenario, majors=3, patches=1, extra=", pinned: [18.1.2]")
    new = scenario.render()

    assert releases_in(new) == ["16.4.6", "17.5.3", "18.1.2", "18.6.6"]
    assert forgotten_releases(plan_of(base, new)) == {
        "15.1.6": RETIRED_15_1_6,
        "floating": 66,
        "terraform": RETIRED_TF,
    }


def test_yanking_a_release_outside_the_window_keeps_it_for_the_yank(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    window(scenario, majors=3, patches=1)
    yank(scenario, "15.1.6")
    new = scenario.render()
    plan = plan_of(base, new)

    assert releases_in(new) == ["15.1.6", "16.4.6", "17.5.3", "18.6.6"]
    news = by_urn(new)
    # 15.1.6's grants give way to revocations, as in any yank
    assert forgotten_releases(plan) == {
        "15.1.6": 114,
        "18.1.2": RETIRED_18_1_2,
        "floating": 33,
        "terraform": RETIRED_TF,
    }
    assert counts(plan) == {
        ("update", "ImageTag"): 99,  # 33 release tags + 66 floating tags unpublished
        ("update", "ChartTag"): 3,  # 15.1.6's Helm chart tags unpublished
        ("forget", "AmiLaunchPermission"): 114,
        ("create", "LaunchPermissionRevocation"): 114,
        ("forget", "ImageTag"): 33 + 33,
        ("forget", "ChartTag"): 3,  # 18.1.2's, retained
        # 18.1.2's provider version forgotten (still listed); the yanked 15.1.6 leaves the index
        ("forget", "ProviderFile"): 24,
        ("forget", "BucketObjectv2"): 5,
        ("update", "BucketObjectv2"): 2,
        ("update", "CloudFrontInvalidation"): 1,
    }
    for step in plan.of(Op.update):
        if kind(step.type) in ("ImageTag", "ChartTag"):
            assert news[step.urn].inputs["published"] is False
    assert deleted(plan) == []


def archive(scenario: Scenario, version: str) -> set[str]:
    """What `mirrors archive` writes for ``version`` from the stack outputs of the scenario as it
    is now; returns the AMI ids the record holds."""
    exported: dict[str, Any] = {}
    mockrun.render(scenario.root, STACK, outputs=exported)
    record = exported["releases"][version]
    target = scenario.root / "mirrors/archive"
    target.mkdir(exist_ok=True)
    (target / f"{version}.yaml").write_text(render_record(version, record), encoding="utf-8")
    return set(record["amis"].values())


# 15.1.6: 6 source AMIs x (17 commercial + 1 GovCloud copies); the transfer's AMI too.
READ_COPIES_15_1_6 = 6 * 18


def test_a_retired_release_back_in_the_window_reads_its_archived_amis(
    scenario: Scenario, plan_of: PlanOf
) -> None:
    ami_ids = archive(scenario, "15.1.6")  # in the pull request that retires it
    window(scenario, majors=3, patches=1)
    retired = scenario.render()
    scenario.edit(DESTINATIONS, "{majors: 3, patches: 1}", "{majors: 4, patches: 1}")
    back = scenario.render()
    plan = plan_of(retired, back)

    assert "15.1.6" in releases_in(back)
    steps = counts(plan)
    assert ("create", "AmiCopy") not in steps
    assert ("create", "AmiTransfer") not in steps
    assert steps[("read", "AmiCopy")] == READ_COPIES_15_1_6
    assert steps[("create", "AmiLaunchPermission")] == 114  # grants again (idempotent in EC2)
    news = by_urn(back)
    read = [news[s.urn] for s in plan.of(Op.read)]
    assert {s.read_id for s in read} <= ami_ids
    for step in plan.of(Op.create, "aws:ec2/amiLaunchPermission:AmiLaunchPermission"):
        assert news[step.urn].inputs["imageId"] in ami_ids
    assert deleted(plan) == []

    # Leaving again drops the reads from state; nothing is deleted.
    again = plan_of(back, retired)
    assert len(again.of(Op.forget, "aws:ec2/amiCopy:AmiCopy")) == READ_COPIES_15_1_6
    assert deleted(again) == []


def test_yanking_a_retired_release_revokes_on_its_archived_amis(
    scenario: Scenario, plan_of: PlanOf
) -> None:
    ami_ids = archive(scenario, "15.1.6")
    window(scenario, majors=3, patches=1)
    retired = scenario.render()
    yank(scenario, "15.1.6")
    plan = plan_of(retired, scenario.render())

    steps = counts(plan)
    assert ("create", "AmiCopy") not in steps
    assert ("create", "AmiTransfer") not in steps
    assert steps[("read", "AmiCopy")] == READ_COPIES_15_1_6
    assert steps[("create", "LaunchPermissionRevocation")] == 114
    news = by_urn(scenario.render())
    for step in plan.of(Op.create):
        if kind(step.type) == "LaunchPermissionRevocation":
            assert news[step.urn].inputs["image_id"] in ami_ids
    assert deleted(plan) == []


def test_two_renders_of_the_same_inputs_are_byte_identical(
    base: list[State], scenario: Scenario
) -> None:
    # The SDK registers from a thread pool and protobuf maps have no order; the mock run
    # reports the program's declaration order with sorted keys (components.mockspeed), so the
    # plan JSON of a pull request does not change between two runs.
    again = scenario.render()

    assert json.dumps([s.to_json() for s in again]) == json.dumps([s.to_json() for s in base])
