"""The GovCloud partition as its own stack, so transfers never hold the commercial stack's copies.

The two scoped stacks together declare exactly what one unscoped stack declares; the GovCloud one
takes its transfer sources from the commercial stack's ``releases`` output (a StackReference).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings
from pulumi.runtime.mocks import MockMonitor

from artifact_mirrors import naming
from artifact_mirrors.plan import ResourceRecord
from artifact_mirrors.spec.load import load_project
from components import program
from components.mockrun import PlanMocks, render
from components.scope import CommercialMirrors, Scope, scoped
from tests.conftest import ROOT

T_TAG = "pulumi-python:dynamic/artifact-mirrors:ImageTag"
T_TRANSFER = "pulumi-python:dynamic/artifact-mirrors:AmiTransfer"
T_COPY = "aws:ec2/amiCopy:AmiCopy"
T_PROVIDER = "pulumi:providers:aws"
T_STACK_REF = "pulumi:pulumi:StackReference"
SPEC = {
    "artifact-mirrors:spec": "mirrors/destinations.yaml",
    "artifact-mirrors:releasesDir": "mirrors/releases",
}


def custom(records: list[ResourceRecord]) -> Counter[tuple[str, str]]:
    return Counter((r.type, r.name) for r in records if r.custom)


@pytest.fixture(scope="module")
def renders() -> dict[str, list[ResourceRecord]]:
    govcloud = {"artifact-mirrors:scope": "govcloud",
                "artifact-mirrors:commercialStack": "acme/artifact-mirrors/prod"}  # fmt: skip
    return {
        "all": render(ROOT, "prod", {**SPEC, "artifact-mirrors:scope": "all"}),
        "commercial": render(ROOT, "prod", {**SPEC, "artifact-mirrors:scope": "commercial"}),
        "govcloud": render(ROOT, "prod-govcloud", {**SPEC, **govcloud}),
    }


def test_the_two_stacks_declare_exactly_what_one_would(
    renders: dict[str, list[ResourceRecord]],
) -> None:
    commercial, govcloud = custom(renders["commercial"]), custom(renders["govcloud"])
    assert commercial & govcloud == Counter()  # nothing is declared twice
    # (The StackReference is read, not registered: it is no resource of either stack.)
    assert commercial + govcloud == custom(renders["all"])


def test_commercial_stack_has_no_transfer_and_govcloud_stack_no_image_copy(
    renders: dict[str, list[ResourceRecord]],
) -> None:
    commercial, govcloud = renders["commercial"], renders["govcloud"]
    assert not [r for r in commercial if r.type == T_TRANSFER]
    all_regions = {p.inputs["region"] for p in renders["all"] if p.type == T_PROVIDER}
    assert {r.inputs["region"] for r in commercial if r.type == T_PROVIDER} == {
        r for r in all_regions if not r.startswith("us-gov-")
    }
    assert len([r for r in commercial if r.type == T_TAG]) == len(
        [r for r in renders["all"] if r.type == T_TAG]
    )
    assert not [r for r in govcloud if r.type == T_TAG]
    transfers = [r for r in govcloud if r.type == T_TRANSFER]
    assert transfers
    assert len(transfers) == len([r for r in renders["all"] if r.type == T_TRANSFER])
    assert {r.inputs["region"] for r in govcloud if r.type == T_PROVIDER} == {
        "us-gov-west-1",
        "us-gov-east-1",
    }
    # Offline (mirrors plan) the source says where it will come from.
    t = next(r for r in transfers if r.name == "18.6.6/oss-x86_64@us-gov-west-1/transfer")
    assert t.inputs["source_image_id"] == (
        "acme/artifact-mirrors/prod:releases.18.6.6.amis.aws/us-west-2/oss-x86_64"
    )
    assert t.inputs["source_profile"] == "teleport-mirrors"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"artifact-mirrors:scope": "gov"},
            "stack config artifact-mirrors:scope: unknown scope (got gov). Hint: use one of "
            "all, commercial, govcloud (see 'Stacks' in README.md)",
        ),
        (
            {"artifact-mirrors:scope": "govcloud"},
            "stack config artifact-mirrors:commercialStack: required with scope govcloud (got "
            "nothing). Hint: name the commercial stack whose mirror copies GovCloud starts "
            "from, e.g. pulumi config set artifact-mirrors:commercialStack "
            "ORG/artifact-mirrors/prod",
        ),
    ],
)
def test_bad_scope_config_is_one_line(config: dict[str, str], message: str) -> None:
    with pytest.raises(pulumi.RunError) as err:
        render(ROOT, "prod", {**SPEC, **config})
    assert str(err.value) == message


class StackOutputs(PlanMocks):
    """Mocks in which the commercial stack exists and exported ``releases``."""

    def __init__(self, releases: dict[str, Any]) -> None:
        super().__init__()
        self.releases = releases

    def new_resource(self, args: Any) -> tuple[str | None, dict[Any, Any]]:
        if args.typ == T_STACK_REF:
            return args.name, {"name": args.inputs["name"], "outputs": {"releases": self.releases}}
        return super().new_resource(args)


def run_govcloud(releases: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The real (online) GovCloud path under mocks: (transfer sources, errors)."""
    mocks = StackOutputs(releases)
    sources: list[str] = []
    errors: list[str] = []
    settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(mocks, project=naming.PROJECT, stack="prod-govcloud", preview=False,
                             monitor=MockMonitor(mocks))  # fmt: skip
    whole = load_project(ROOT / "mirrors/destinations.yaml", ROOT / "mirrors/releases")
    project = scoped(whole, Scope("govcloud", "acme/artifact-mirrors/prod"))
    project = type(project)(project.spec, tuple(r for r in project.releases if r.name == "18.6.6"))

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def _run() -> None:
        aws = whole.spec.amis.partitions["aws"] if whole.spec.amis else None
        commercial = CommercialMirrors("acme/artifact-mirrors/prod", aws, offline=False)
        program.build(project, commercial)
        out = commercial.image_id("18.6.6", "oss-x86_64", "us-west-2")
        out.apply(sources.append)

    try:
        _run()
    except Exception as exc:  # the RunError raised inside the apply
        errors.append(str(exc))
    return sources, errors


KEYS = ["oss-x86_64", "oss-arm64"]  # the AMIs of 18.6.6


def test_govcloud_stack_reads_the_commercial_copies_from_the_stack_reference() -> None:
    amis = {f"aws/us-west-2/{k}": f"ami-{i:017x}" for i, k in enumerate(KEYS)}
    sources, errors = run_govcloud({"18.6.6": {"amis": amis}})
    assert errors == []
    assert sources == ["ami-00000000000000000"]


def test_govcloud_before_the_commercial_stack_fails_with_a_hint() -> None:
    # The commercial stack has mirrored all but one AMI of the release (still running, failed).
    amis = {f"aws/us-west-2/{k}": f"ami-{i:017x}" for i, k in enumerate(KEYS[:-1])}
    _, errors = run_govcloud({"18.6.6": {"amis": amis}})
    assert errors == [
        "stack acme/artifact-mirrors/prod has no commercial mirror of oss-arm64 in us-west-2 "
        "for release 18.6.6 (output releases.18.6.6.amis.aws/us-west-2/oss-arm64). Hint: run "
        "`pulumi up` on acme/artifact-mirrors/prod first; GovCloud starts from its copies"
    ]
