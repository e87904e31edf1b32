"""The step plan (artifact_mirrors.steps) on small hand-made states."""

from __future__ import annotations

from artifact_mirrors.steps import (
    UNKNOWN,
    Decision,
    Op,
    State,
    Step,
    StepPlan,
    plan_steps,
)

P = "urn:pulumi:s::p::"
PROVIDER = f"{P}pulumi:providers:aws::aws/us-east-1"
COPY = f"{P}aws:ec2/amiCopy:AmiCopy::1.0.0/oss@us-east-1"
GRANT = f"{P}aws:ec2/amiLaunchPermission:AmiLaunchPermission::1.0.0/oss@us-east-1/group=all"
TAG = f"{P}pulumi-python:dynamic/artifact-mirrors:ImageTag::hub/app:1.0.0"


def provider(**inputs: object) -> State:
    return State(PROVIDER, "pulumi:providers:aws", True, inputs={"region": "us-east-1", **inputs})


def copy(name: str = "app-1.0.0", **inputs: object) -> State:
    return State(
        COPY,
        "aws:ec2/amiCopy:AmiCopy",
        True,
        provider=PROVIDER,
        inputs={"name": name, "sourceAmiId": "ami-1", "sourceAmiRegion": "us-west-2", **inputs},
        retain_on_delete=True,
    )


def grant() -> State:
    return State(
        GRANT,
        "aws:ec2/amiLaunchPermission:AmiLaunchPermission",
        True,
        provider=PROVIDER,
        inputs={"imageId": "ami-fake", "group": "all"},
        retain_on_delete=True,
        depends_on=(COPY,),
        property_dependencies={"imageId": (COPY,)},
    )


def ops(plan: StepPlan) -> list[tuple[str, str]]:
    return [(s.op.value, s.name) for s in plan.steps]


def test_a_new_stack_creates_everything_in_dependency_order() -> None:
    plan = plan_steps([], [grant(), copy(), provider()])
    assert ops(plan) == [
        ("create", "aws/us-east-1"),
        ("create", "1.0.0/oss@us-east-1"),
        ("create", "1.0.0/oss@us-east-1/group=all"),
    ]


def test_unchanged_inputs_are_same_and_a_description_is_an_update() -> None:
    old = [provider(), copy(), grant()]
    assert plan_steps(old, old).counts() == {Op.same: 3}
    plan = plan_steps(old, [provider(), copy(description="mirror"), grant()])
    expected = Step(Op.update, COPY, "aws:ec2/amiCopy:AmiCopy", True, ("description",))
    assert plan.of(Op.update) == [expected]


def test_leaving_out_a_default_is_no_change() -> None:
    old = [provider(), copy(encrypted=False), grant()]
    assert plan_steps(old, [provider(), copy(), grant()]).counts() == {Op.same: 3}


def test_force_new_replaces_the_retained_copy_and_its_grants_through_the_unknown_id() -> None:
    old = [provider(), copy(), grant()]
    plan = plan_steps(old, [provider(), copy("app-1.0.0-enc", encrypted=True), grant()])
    assert [(s.op, s.name, s.keys, s.retained_old) for s in plan.changes()] == [
        (Op.replace, "1.0.0/oss@us-east-1", ("encrypted", "name"), True),
        (Op.replace, "1.0.0/oss@us-east-1/group=all", ("imageId",), True),
    ]
    assert plan.changes()[0].describe() == (
        "replace (encrypted, name): create a new one; the old one is retained (not deleted)"
    )


def test_removed_resources_are_forgotten_if_retained_else_deleted_dependents_first() -> None:
    revocation = State(
        f"{P}pulumi-python:dynamic/artifact-mirrors:LaunchPermissionRevocation::r",
        "pulumi-python:dynamic/artifact-mirrors:LaunchPermissionRevocation",
        True,
        depends_on=(COPY,),
    )
    plan = plan_steps([provider(), copy(), grant(), revocation], [provider()])
    assert ops(plan) == [
        ("same", "aws/us-east-1"),
        ("delete", "r"),
        ("forget", "1.0.0/oss@us-east-1/group=all"),
        ("forget", "1.0.0/oss@us-east-1"),
    ]
    assert plan.of(Op.forget)[0].describe() == (
        "forget: removed from state, left in place (retain_on_delete)"
    )


def test_a_provider_input_change_is_an_update_of_the_provider_only() -> None:
    old = [provider(), copy()]
    plan = plan_steps(old, [provider(profile="other"), copy()])
    assert [(s.op, s.name, s.keys) for s in plan.changes()] == [
        (Op.update, "aws/us-east-1", ("profile",))
    ]


def test_dynamic_resources_are_decided_by_the_differ_with_unknowns_marked() -> None:
    seen: list[dict[str, object]] = []

    def differ(old: State, new: State) -> Decision:
        seen.append(dict(new.inputs))
        return Decision(changes=True, replaces=("tag",), delete_before_replace=True)

    tag = State(
        TAG,
        "pulumi-python:dynamic/artifact-mirrors:ImageTag",
        True,
        inputs={"tag": "1.0.0", "image": "ami-fake"},
        property_dependencies={"image": (COPY,)},
    )
    plan = plan_steps([tag], [copy(), tag], differ)
    assert seen == [{"tag": "1.0.0", "image": UNKNOWN}]
    step = plan.of(Op.replace)[0]
    assert step.describe() == "replace (tag): delete, then create"


def test_a_differ_without_an_opinion_falls_back_on_the_inputs() -> None:
    tag = State(TAG, "pulumi-python:dynamic/artifact-mirrors:ImageTag", True, inputs={"d": 1})
    moved = State(TAG, tag.type, True, inputs={"d": 2})
    plan = plan_steps([tag], [moved], lambda old, new: None)
    assert [(s.op, s.keys) for s in plan.steps] == [(Op.update, ("d",))]


def test_state_round_trips_through_json() -> None:
    g = grant()
    assert State.from_json(g.to_json()) == g
