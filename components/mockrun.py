"""Run the real program under Pulumi's mocks: no CLI, no engine, no credentials, no network.

`mirrors plan` and the component tests both use this. The monitor records what the engine would
receive for each RegisterResource call (type, name, parent, provider, retain/protect flags,
dependencies, inputs) and computes URNs the way the real engine does (the full parent type chain;
the mock monitor only keeps the last parent type), so URN uniqueness can be checked here even
though mocks silently overwrite duplicates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import ResourceProvider
from pulumi.output import Unknown
from pulumi.runtime import settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

from artifact_mirrors import naming
from artifact_mirrors.plan import ResourceRecord as Registered
from artifact_mirrors.spec.model import Project
from artifact_mirrors.steps import COMPUTED, Decision, State
from components import program
from components.mockspeed import (
    Settle,
    declaration_order,
    outputs_on_demand,
    release_sdk_state,
    without_source_positions,
    young_collections_only,
)

STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


def _known(value: Any) -> Any:
    """Inputs as plain JSON data: an output no mock produces becomes ``steps.COMPUTED``.

    Keys sorted: the inputs arrive as a protobuf Struct, whose map order varies from run to run
    (measured: two plans of the shipped spec listed one repository's inputs in different orders).
    """
    if isinstance(value, Unknown):
        return COMPUTED
    if isinstance(value, dict):
        return {k: _known(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_known(v) for v in value]
    return value


class PlanMocks(Mocks):
    """Deterministic fake ids and outputs; outputs echo inputs like a create would."""

    def __init__(self) -> None:
        # The SDK calls the monitor from a thread pool, so results are keyed, not "last seen".
        self.seen: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        inputs = {k: _known(v) for k, v in sorted(args.inputs.items()) if k != "__provider"}
        outputs: dict[str, Any] = {}
        digest = hashlib.sha256(f"{args.typ}::{args.name}".encode()).hexdigest()
        if args.resource_id:  # a read (Resource.get): the resource exists with this id
            rid = args.resource_id
            if args.typ == "aws:ec2/amiCopy:AmiCopy":
                outputs = {"root_snapshot_id": COMPUTED}  # only the live read knows it
        elif args.typ == "aws:ec2/amiCopy:AmiCopy":
            rid = f"ami-{digest[:17]}"
        elif args.typ.endswith(":AmiTransfer"):
            rid = f"{args.name}"
            outputs = {"image_id": f"ami-{digest[:17]}"}
        else:
            rid = f"{args.name}-id" if args.custom else ""
        self.seen[(args.typ, args.name)] = (inputs, outputs)
        return rid or None, {**inputs, **outputs}

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: PlanMocks) -> None:
        super().__init__(mocks)
        self.plan_mocks = mocks
        self.registered: list[Registered] = []
        self._qualified: dict[str, str] = {}  # mock URN -> real engine qualified type
        self._real_urns: dict[str, str] = {}  # mock URN -> real engine URN

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == STACK_TYPE:
            self._qualified[response.urn] = STACK_TYPE
            return response
        real_urn = self._name(request, response.urn)
        inputs, outputs = self.plan_mocks.seen.pop((request.type, request.name), ({}, {}))
        self.registered.append(
            Registered(
                urn=real_urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=self._real(request.parent),
                provider=self._real(request.provider.rsplit("::", 1)[0]),
                id=response.id,
                inputs=inputs if request.custom else {},
                retain_on_delete=bool(request.retainOnDelete),
                protect=bool(request.protect),
                # The SDK collects dependencies in a set: the order means nothing.
                depends_on=sorted(self._real(d) for d in request.dependencies),
                outputs=outputs,
                property_dependencies={
                    key: sorted(self._real(u) for u in deps.urns)
                    for key, deps in sorted(request.propertyDependencies.items())
                    if deps.urns
                },
            )
        )
        return response

    def ReadResource(self, request: Any) -> Any:
        """A ``Resource.get``: recorded like a registration, with the id it reads."""
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        # The engine answers a read with the id it read; the mock leaves it empty, which a
        # preview takes for unknown (pulumi/runtime/resource.py read_resource).
        response.id = request.id
        if request.type == STACK_REFERENCE:
            # The GovCloud stack's reference to the commercial one: the plan never listed it.
            return response
        real_urn = self._name(request, response.urn)
        inputs, outputs = self.plan_mocks.seen.pop((request.type, request.name), ({}, {}))
        self.registered.append(
            Registered(
                urn=real_urn,
                type=request.type,
                name=request.name,
                custom=True,
                parent=self._real(request.parent),
                provider=self._real(request.provider.rsplit("::", 1)[0]),
                id=request.id,
                inputs=inputs,
                retain_on_delete=False,
                protect=False,
                depends_on=sorted(self._real(d) for d in request.dependencies),
                outputs=outputs,
                read_id=request.id,
            )
        )
        return response

    def _name(self, request: Any, mock_urn: str) -> str:
        """The URN the engine would give the resource (its type qualified by its parents')."""
        parent_type = self._qualified.get(request.parent, STACK_TYPE)
        qualified = request.type if parent_type == STACK_TYPE else f"{parent_type}${request.type}"
        self._qualified[mock_urn] = qualified
        real_urn = "urn:pulumi:" + "::".join(
            [pulumi.get_stack(), pulumi.get_project(), qualified, request.name]
        )
        self._real_urns[mock_urn] = real_urn
        return real_urn

    def _real(self, mock_urn: str) -> str:
        return self._real_urns.get(mock_urn, "")


def stack_config(project_dir: Path, stack: str) -> dict[str, str]:
    """The plain (non-secret) config of ``stacks/Pulumi.<stack>.yaml`` as the engine passes it."""
    from ruamel.yaml import YAML

    file = project_dir / "stacks" / f"Pulumi.{stack}.yaml"
    if not file.is_file():
        raise FileNotFoundError(file)
    data = YAML(typ="safe").load(file.read_text(encoding="utf-8")) or {}
    config: dict[str, str] = {}
    for key, value in (data.get("config") or {}).items():
        full = key if ":" in key else f"{naming.PROJECT}:{key}"
        if isinstance(value, dict) and "secure" in value:
            config[full] = "[secret]"  # never decrypted here: the plan needs no secret
        else:
            config[full] = value if isinstance(value, str) else json.dumps(value)
    return config


def render(
    project_dir: Path,
    stack: str,
    config: dict[str, str] | None = None,
    outputs: dict[str, Any] | None = None,
    loaded: Project | None = None,
) -> list[Registered]:
    """Register every resource of the program for ``stack``; return them in registration order.

    ``outputs``, when given, is filled with the stack outputs the program exports, resolved (see
    :func:`stack_outputs`). ``loaded``: the project the caller loaded from the paths this stack's
    config names (`mirrors plan` validates it first), so the program does not parse it again."""
    mocks = PlanMocks()
    monitor = RecordingMonitor(mocks)
    # A fresh root Stack per render, so repeated renders in one process don't share parents.
    settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(
        mocks, project=naming.PROJECT, stack=stack, preview=True, monitor=monitor
    )
    pulumi.runtime.set_all_config(
        config if config is not None else stack_config(project_dir, stack)
    )

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def _run() -> Any:
        program.run(project_dir, offline=True, settle=Settle(), loaded=loaded)
        if outputs is None:
            return None
        # The exports are Outputs of resources the mocks resolve; the test decorator awaits this.
        exported = dict(settings.get_root_resource().outputs)  # type: ignore[union-attr]
        return pulumi.Output.from_input(exported).apply(outputs.update)

    with (
        without_source_positions(),
        outputs_on_demand(),
        young_collections_only(),
        declaration_order() as order,
    ):
        _run()
    release_sdk_state()
    # Program order, not the thread pool's (see declaration_order); sort is stable.
    monitor.registered.sort(key=lambda r: order.get((r.type, r.name), len(order)))
    return monitor.registered


def stack_outputs(resources: list[Registered], exported: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs `pulumi stack output --json` would print after an update of this program.

    Everything is known offline except what only a copy creates: the id of each AMI copy and
    GovCloud transfer, written as ``steps.COMPUTED`` (a mock's id would look real and be wrong).
    `mirrors verify` reports those AMIs as not copied yet.
    """
    # A read copy's id is the archived one: real, so kept.
    fake = {r.id for r in resources if r.type == "aws:ec2/amiCopy:AmiCopy" and not r.read_id}
    fake |= {str(r.outputs.get("image_id")) for r in resources if r.type.endswith(":AmiTransfer")}

    def known(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: known(v) for k, v in value.items()}
        if isinstance(value, list):
            return [known(v) for v in value]
        return COMPUTED if isinstance(value, str) and value in fake else value

    return {k: known(v) for k, v in sorted(exported.items())}


# ---- the dynamic providers' own Check and Diff, in-process and offline -------------------------


def dynamic_provider(type_: str) -> ResourceProvider | None:
    """The provider object behind a dynamic resource type (None: not one of this program's).

    ``pulumi-python:dynamic/artifact-mirrors:X`` is served by class ``XProvider`` of one of the
    modules in ``components.dynamic``.
    """
    from components.dynamic import ami, image_tag, repository, terraform

    if not type_.startswith(DYNAMIC):
        return None
    name = type_[len(DYNAMIC) :] + "Provider"
    for module in (image_tag, repository, ami, terraform):
        cls = getattr(module, name, None)
        if isinstance(cls, type) and issubclass(cls, ResourceProvider):
            return cls()
    return None


DYNAMIC = "pulumi-python:dynamic/artifact-mirrors:"


@dataclass(frozen=True)
class CheckProblem:
    """One failure of a dynamic provider's Check for one resource."""

    urn: str
    type: str
    inputs: Mapping[str, Any]
    property: str
    reason: str


def run_checks(resources: list[Registered]) -> list[CheckProblem]:
    """Every dynamic resource's real ``check(olds={}, news=inputs)``, as a preview runs it."""
    problems: list[CheckProblem] = []
    # Registration order varies between runs (resources register concurrently); errors that name
    # "the first of N" must not.
    for r in sorted(resources, key=lambda r: r.urn):
        provider = dynamic_provider(r.type) if r.custom else None
        if provider is None:
            continue
        result = provider.check({}, dict(r.inputs))
        for f in result.failures or []:
            problems.append(CheckProblem(r.urn, r.type, r.inputs, f.property, f.reason))
    return problems


def offline_decision(old: State, new: State) -> Decision | None:
    """The provider's Check then Diff of ``new`` against ``old``, without any live check.

    Check gets the old inputs as ``olds`` like the engine's; Diff gets the old inputs as the old
    outputs (this program's outputs echo its inputs). Providers whose ``diff`` goes live when the
    inputs alone show no change expose the inputs-only half as ``diff_inputs`` on the provider or
    in their module (ImageTag); that is called instead, so no request leaves the machine.
    """
    provider = dynamic_provider(new.type)
    if provider is None:
        return None
    # State holds checked inputs: check the old ones too, so defaults Check fills aren't changes.
    prior = provider.check({}, dict(old.inputs))
    olds = dict(prior.inputs if prior.inputs is not None else old.inputs)
    checked = provider.check(olds, dict(new.inputs))
    news = dict(checked.inputs if checked.inputs is not None else new.inputs)
    module = __import__(type(provider).__module__, fromlist=["diff_inputs"])
    # The provider's own (a module with two providers), else its module's.
    diff_inputs = getattr(provider, "diff_inputs", None) or getattr(module, "diff_inputs", None)
    if diff_inputs is not None:
        replaces, changed = diff_inputs(olds, news)
        keys = tuple(dict.fromkeys([*replaces, *changed]))
        return Decision(changes=bool(keys), replaces=tuple(replaces), diffs=keys)
    if olds == news:
        return Decision(changes=False)  # only a live check could find a change: not offline
    result = provider.diff(new.urn.rsplit("::", 1)[-1], olds, news)
    diffs = [k for k in sorted(olds.keys() | news.keys()) if olds.get(k) != news.get(k)]
    return Decision(
        changes=bool(result.changes),
        replaces=tuple(result.replaces or ()),
        diffs=tuple(diffs),
        delete_before_replace=bool(result.delete_before_replace),
    )
