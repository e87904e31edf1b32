"""components.mockspeed.outputs_on_demand: an output property read under mocks resolves as the
SDK's own would, one never read costs no Output, and the SDK is as it was afterwards."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from components.mockspeed import outputs_on_demand


class SnapshotMocks(Mocks):
    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", {**args.inputs, "rootSnapshotId": f"snap-{args.name}"}

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


@pytest.fixture(autouse=True)
def mocks() -> None:
    pulumi.runtime.settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(SnapshotMocks(), project="p", stack="s", preview=False)


def _copy(name: str) -> aws.ec2.AmiCopy:
    return aws.ec2.AmiCopy(name, source_ami_id="ami-1", source_ami_region="us-west-2")


def test_an_output_read_before_its_registration_resolves_to_the_registered_value() -> None:
    seen: list[object] = []

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> Any:
        with outputs_on_demand():
            copy = _copy("early")
            snapshot = copy.root_snapshot_id  # read at once, as the program does
        return pulumi.Output.all(snapshot, copy.source_ami_region).apply(seen.extend)

    program()

    assert seen == ["snap-early", "us-west-2"]


def test_an_output_read_after_its_registration_resolves_to_the_registered_value() -> None:
    seen: list[object] = []

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> Any:
        with outputs_on_demand():
            copy = _copy("late")
            # Read only once the registration has resolved: the kept resolution is used.
            return copy.id.apply(lambda _: copy.root_snapshot_id.apply(seen.append))

    program()

    assert seen == ["snap-late"]


def test_an_output_never_read_is_no_output_and_an_unknown_attribute_is_an_attribute_error() -> None:
    held: list[aws.ec2.AmiCopy] = []
    errors: list[str] = []

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> Any:
        with outputs_on_demand():
            copy = _copy("unread")
            held.append(copy)
            try:
                copy.no_such_property  # type: ignore[attr-defined]  # noqa: B018
            except AttributeError as exc:
                errors.append(str(exc))
        return copy.id

    program()

    assert "arn" not in dict(vars(held[0]))
    assert errors == ["'AmiCopy' object has no attribute 'no_such_property'"]


def test_the_sdk_is_restored_after_the_context() -> None:
    before = rpc.transfer_properties
    with outputs_on_demand():
        assert rpc.transfer_properties is not before
        assert "__getattr__" in vars(pulumi.Resource)
    assert rpc.transfer_properties is before
    assert "__getattr__" not in vars(pulumi.Resource)
