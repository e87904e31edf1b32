"""Helm chart updates on the shipped Teleport spec as step plans (3 charts x 5 releases, ECR
Public), decided by ChartTag's own Check and Diff in-process and through the real server."""

from __future__ import annotations

import hashlib

from artifact_mirrors.steps import Op, State

from .conftest import PlanOf, Scenario, counts, deleted, kind

DESTINATIONS = "mirrors/destinations.yaml"


def fake(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def test_a_new_chart_creates_its_repository_and_the_tag_of_each_release_pinning_it(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    with (scenario.root / DESTINATIONS).open("a", encoding="utf-8") as fh:
        fh.write(
            "  - name: teleport-plugin-slack\n"
            "    source: {url: https://charts.releases.teleport.dev}\n"
            "    registries: [ecr-public]\n"
            "    repository: charts/teleport-plugin-slack\n"
        )
    with (scenario.root / "mirrors/releases/18.6.6.yaml").open("a", encoding="utf-8") as fh:
        fh.write(
            '  teleport-plugin-slack:\n    version: "18.6.6"\n'
            f"    digest: sha256:{fake('slack manifest')}\n"
            "    url: https://charts.releases.teleport.dev/teleport-plugin-slack-18.6.6.tgz\n"
            f"    sha256: {fake('slack tgz')}\n"
            '    created: "2026-01-01T00:00:00Z"\n'
        )
    new = scenario.render()
    plan = plan_of(base, new)
    assert counts(plan) == {("create", "Repository"): 1, ("create", "ChartTag"): 1}
    (tag,) = [s for s in plan.of(Op.create) if kind(s.type) == "ChartTag"]
    assert tag.name == "ecr-public/charts/teleport-plugin-slack:18.6.6"
    inputs = {s.urn: s for s in new}[tag.urn].inputs
    assert inputs["repository"] == "public.ecr.aws/teleport-mirror/charts/teleport-plugin-slack"
    assert inputs["digest"] == f"sha256:{fake('slack manifest')}"
    assert deleted(plan) == []


def test_a_re_pinned_chart_is_an_update_of_its_one_tag(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    old = hashlib.sha256(b"18.6.6/teleport-cluster/manifest").hexdigest()
    scenario.edit("mirrors/releases/18.6.6.yaml", old, fake("re-pinned"))
    plan = plan_of(base, scenario.render())
    assert counts(plan) == {("update", "ChartTag"): 1}
    (step,) = plan.of(Op.update)
    assert (step.name, step.keys) == ("ecr-public/charts/teleport-cluster:18.6.6", ("digest",))


def test_removing_a_chart_from_the_spec_forgets_its_tags_and_deletes_nothing(
    base: list[State], scenario: Scenario, plan_of: PlanOf
) -> None:
    scenario.edit(
        DESTINATIONS,
        "  - name: teleport-operator\n    source: {url: https://charts.releases.teleport.dev}\n"
        "    registries: [ecr-public]\n    repository: charts/teleport-operator\n",
        "",
    )
    for version in ("15.1.6", "16.4.6", "17.5.3", "18.1.2", "18.6.6"):
        path = scenario.root / f"mirrors/releases/{version}.yaml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.split("  teleport-operator:\n    version:")[0], encoding="utf-8")
    plan = plan_of(base, scenario.render())
    assert counts(plan) == {("forget", "ChartTag"): 5, ("forget", "Repository"): 1}
    assert deleted(plan) == []
