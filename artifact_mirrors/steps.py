"""The step plan of a stack update: what `pulumi up` from one render of the program to the next
does.

No Pulumi CLI runs here, so this models the engine's step generator (pulumi/pulumi
``pkg/resource/deploy/step_generator.go``) for what this program uses:

* a resource only in the new render is a **create**; only in the old one a **delete**, or a
  **forget** when it is ``retain_on_delete`` (the engine drops it from state and leaves it alone);
* a resource in both is **same**, **update** or **replace**, as its provider's Diff decides. For
  the dynamic providers the caller passes that decision in (``Differ``: the providers' own
  Check and Diff, see ``components.mockrun``); for pulumi-aws resources it comes from
  ``FORCE_NEW``, the arguments the provider documents as forcing a new resource;
* a replacement is create-before-delete unless Diff says ``delete_before_replace``; the old
  resource of a ``retain_on_delete`` replacement is not deleted but left where it is
  (``retained_old``): for an AMI copy that means the old AMI stays, with its name and grants;
* inputs that come from another resource's outputs (``property_dependencies``) are unknown in a
  preview when that resource is created or replaced; a force-new argument that is unknown
  replaces (so replacing an AMI copy replaces its launch permissions and the GovCloud transfer
  that starts from it);
* a resource the program reads by id (``Resource.get``, ``State.read_id``: an AMI copy of a
  release back from the archive) is a **read**: nothing is created or changed, and dropping it
  later only removes it from state (the engine never deletes an external resource);
* creates, updates and replacements run in dependency order (parent, provider, ``depends_on``,
  property dependencies), deletes and forgets after them in reverse dependency order.

This is an offline estimate: `pulumi preview` is what decides (it also sees live state: drift,
resources deleted behind our back, refreshed outputs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# The engine's marker for a value not known during preview (pulumi.runtime.rpc.UNKNOWN): set
# here on inputs that come from a resource the update creates or replaces.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# What a render records for an output the mocks cannot know (e.g. an AMI copy's root snapshot
# id): the same in both renders, so it is no change by itself.
COMPUTED = "<computed>"

DYNAMIC_PREFIX = "pulumi-python:dynamic/"
T_PROVIDER = "pulumi:providers:aws"

# pulumi-aws (7.x) is bridged from terraform-provider-aws; an argument marked ForceNew there is
# a replacement in Pulumi. Wire (camelCase) names, as RegisterResource sends them. Sources:
FORCE_NEW: dict[str, frozenset[str]] = {
    # aws.ec2.AmiCopy: name, sourceAmiId, sourceAmiRegion, encrypted, kmsKeyId,
    # destinationOutpostArn and ephemeralBlockDevices are ForceNew; description,
    # deprecationTime and tags update in place.
    # https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/ec2/ec2_ami_copy.go
    # (https://www.pulumi.com/registry/packages/aws/api-docs/ec2/amicopy/)
    "aws:ec2/amiCopy:AmiCopy": frozenset(
        {
            "name",
            "sourceAmiId",
            "sourceAmiRegion",
            "encrypted",
            "kmsKeyId",
            "destinationOutpostArn",
            "ephemeralBlockDevices",
        }
    ),
    # aws.ec2.AmiLaunchPermission: every argument is ForceNew (the resource has no Update).
    # https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/ec2/ec2_ami_launch_permission.go
    "aws:ec2/amiLaunchPermission:AmiLaunchPermission": frozenset(
        {"imageId", "accountId", "group", "organizationArn", "organizationalUnitArn"}
    ),
    # aws.ec2.SnapshotCreateVolumePermission: snapshot_id and account_id are ForceNew (no Update).
    # https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/ec2/ebs_snapshot_create_volume_permission.go
    "aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission": frozenset(
        {"snapshotId", "accountId"}
    ),
    # aws.ec2.ImageBlockPublicAccess: `state` updates in place (Create and Update are the same
    # Put; Delete is a no-op).
    # https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/ec2/ec2_image_block_public_access.go
    "aws:ec2/imageBlockPublicAccess:ImageBlockPublicAccess": frozenset(),
    # aws.ecr.Repository: name and encryptionConfigurations are ForceNew; imageTagMutability,
    # imageScanningConfiguration and tags update in place.
    # https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/ecr/repository.go
    "aws:ecr/repository:Repository": frozenset({"name", "encryptionConfigurations"}),
    # aws.ecrpublic.Repository: repository_name is ForceNew; catalogData and tags update.
    # https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/ecrpublic/repository.go
    "aws:ecrpublic/repository:Repository": frozenset({"repositoryName"}),
    # pulumi:providers:aws: the bridge's DiffConfig replaces a provider only for config keys
    # marked ForcesProviderReplace (pulumi-terraform-bridge SchemaInfo.ForcesProviderReplace:
    # "Pulumi supports replacing explicit providers and cascading the replacement to all
    # resources provisioned with the given provider configuration"); any other change is an
    # update of the provider, and the resources under it stay as they are. This program names
    # its providers by (partition, region), so a region change is a different provider anyway;
    # profile, allowedAccountIds, defaultTags and endpoints changes are updates.
    T_PROVIDER: frozenset(),
    # aws.s3.BucketObjectv2 (Terraform provider mirror documents): bucket and key are ForceNew;
    # content and contentType update in place (the Update puts the object again).
    # https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/s3/object.go
    "aws:s3/bucketObjectv2:BucketObjectv2": frozenset({"bucket", "key"}),
}

# Values the provider fills in when an argument is left out (so leaving it out is no change).
DEFAULTS: dict[str, dict[str, Any]] = {
    "aws:ec2/amiCopy:AmiCopy": {"encrypted": False},
    "aws:ecr/repository:Repository": {"imageTagMutability": "MUTABLE"},
}


class Op(Enum):
    value: str

    create = "create"
    same = "same"
    update = "update"
    replace = "replace"
    forget = "forget"
    delete = "delete"
    read = "read"


@dataclass(frozen=True)
class State:
    """One resource as the engine sees it: registration plus the inputs it would store."""

    urn: str
    type: str
    custom: bool
    parent: str = ""
    provider: str = ""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    retain_on_delete: bool = False
    depends_on: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # A resource the program reads (``Resource.get``) by this id instead of managing it.
    read_id: str = ""

    @property
    def name(self) -> str:
        return self.urn.split("::", 3)[-1]

    @property
    def dynamic(self) -> bool:
        return self.type.startswith(DYNAMIC_PREFIX)

    def dependencies(self) -> set[str]:
        deps = {self.parent, self.provider, *self.depends_on}
        for urns in self.property_dependencies.values():
            deps.update(urns)
        deps.discard("")
        return deps

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "custom": self.custom,
            "parent": self.parent,
            "provider": self.provider,
            "retain_on_delete": self.retain_on_delete,
            "depends_on": list(self.depends_on),
            "property_dependencies": {k: list(v) for k, v in self.property_dependencies.items()},
            "inputs": dict(self.inputs),
        } | ({"read_id": self.read_id} if self.read_id else {})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> State:
        return cls(
            urn=str(data["urn"]),
            type=str(data["type"]),
            custom=bool(data.get("custom", True)),
            parent=str(data.get("parent") or ""),
            provider=str(data.get("provider") or ""),
            inputs=dict(data.get("inputs") or {}),
            retain_on_delete=bool(data.get("retain_on_delete")),
            depends_on=tuple(data.get("depends_on") or ()),
            property_dependencies={
                k: tuple(v) for k, v in (data.get("property_dependencies") or {}).items()
            },
            read_id=str(data.get("read_id") or ""),
        )


@dataclass(frozen=True)
class Decision:
    """A provider's Diff answer."""

    changes: bool
    replaces: tuple[str, ...] = ()
    diffs: tuple[str, ...] = ()  # the keys that changed (for the reviewer)
    delete_before_replace: bool = False


# (old state, new state with unknown inputs marked UNKNOWN) -> the provider's decision, or None
# to fall back on comparing inputs.
Differ = Callable[[State, State], Decision | None]


@dataclass(frozen=True)
class Step:
    op: Op
    urn: str
    type: str
    custom: bool
    keys: tuple[str, ...] = ()  # update: changed keys; replace: the keys forcing it
    retained_old: bool = False  # replace of a retain_on_delete resource: the old one stays
    delete_before_replace: bool = False

    @property
    def name(self) -> str:
        return self.urn.split("::", 3)[-1]

    def describe(self) -> str:
        """What the step does, in a few words (for tables and messages)."""
        keys = ", ".join(self.keys)
        if self.op is Op.update:
            return f"update {keys}" if keys else "update"
        if self.op is Op.replace:
            how = "delete, then create" if self.delete_before_replace else "create, then delete"
            if self.retained_old:
                how = "create a new one; the old one is retained (not deleted)"
            return f"replace ({keys}): {how}"
        if self.op is Op.forget:
            return "forget: removed from state, left in place (retain_on_delete)"
        return self.op.value


@dataclass(frozen=True)
class StepPlan:
    steps: tuple[Step, ...]  # execution order; `same` steps included

    def changes(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.op is not Op.same)

    def counts(self, *, custom_only: bool = True) -> Counter[Op]:
        return Counter(s.op for s in self.steps if s.custom or not custom_only)

    def of(self, op: Op, type_: str | None = None) -> list[Step]:
        return [s for s in self.steps if s.op is op and (type_ is None or s.type == type_)]


def _normal(type_: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in inputs.items() if k != "__provider" and v is not None}
    for key, default in DEFAULTS.get(type_, {}).items():
        if out.get(key) == default:
            del out[key]
    return out


def changed_keys(type_: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    a, b = _normal(type_, old), _normal(type_, new)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k) or b.get(k) == UNKNOWN)


def inputs_decision(old: State, new: State) -> Decision:
    """Diff from the inputs alone; pulumi-aws replacements from ``FORCE_NEW``."""
    keys = changed_keys(new.type, old.inputs, new.inputs)
    force_new = FORCE_NEW.get(new.type, frozenset())
    replaces = tuple(k for k in keys if k in force_new)
    return Decision(changes=bool(keys), replaces=replaces, diffs=tuple(keys))


def _with_unknowns(new: State, unknown_deps: set[str]) -> State:
    """``new`` with every input that comes from a created or replaced resource marked unknown."""
    keys = [k for k, urns in new.property_dependencies.items() if unknown_deps.intersection(urns)]
    if not keys:
        return new
    inputs = dict(new.inputs)
    for k in keys:
        if k in inputs:
            inputs[k] = UNKNOWN
    return State(
        urn=new.urn,
        type=new.type,
        custom=new.custom,
        parent=new.parent,
        provider=new.provider,
        inputs=inputs,
        retain_on_delete=new.retain_on_delete,
        depends_on=new.depends_on,
        property_dependencies=new.property_dependencies,
        read_id=new.read_id,
    )


def _topological(states: list[State]) -> list[State]:
    """Dependencies first; otherwise registration order (stable)."""
    by_urn = {s.urn: s for s in states}
    index = {s.urn: i for i, s in enumerate(states)}
    done: set[str] = set()
    out: list[State] = []

    def visit(s: State, stack: set[str]) -> None:
        if s.urn in done or s.urn in stack:
            return
        stack.add(s.urn)
        for dep in sorted(s.dependencies(), key=lambda u: index.get(u, -1)):
            if dep in by_urn:
                visit(by_urn[dep], stack)
        stack.discard(s.urn)
        done.add(s.urn)
        out.append(s)

    for s in states:
        visit(s, set())
    return out


def plan_steps(
    old: Iterable[State], new: Iterable[State], differ: Differ | None = None
) -> StepPlan:
    """The steps `pulumi up` takes from state ``old`` to the program ``new``."""
    olds = {s.urn: s for s in old}
    news = _topological(list(new))
    new_urns = {s.urn for s in news}
    steps: list[Step] = []
    unknown_deps: set[str] = set()  # created or replaced: their outputs are unknown in preview
    replaced_providers: set[str] = set()
    deferred_deletes: list[Step] = []

    for s in news:
        prev = olds.get(s.urn)
        if s.read_id:
            # A read changes nothing; its outputs are known in the preview (the engine reads
            # the live resource then). The same id read again is no step worth showing.
            same = prev is not None and prev.read_id == s.read_id
            steps.append(Step(Op.same if same else Op.read, s.urn, s.type, s.custom))
            continue
        if prev is None:
            steps.append(Step(Op.create, s.urn, s.type, s.custom))
            unknown_deps.add(s.urn)
            continue
        if not s.custom:
            steps.append(Step(Op.same, s.urn, s.type, s.custom))
            continue
        checked = _with_unknowns(s, unknown_deps)
        decision = differ(prev, checked) if (differ and s.dynamic) else None
        if decision is None:
            decision = inputs_decision(prev, checked)
        replaces = decision.replaces
        if s.provider and (s.provider in replaced_providers or s.provider != prev.provider):
            # A resource whose provider is replaced is replaced with it; one moved to another
            # provider is replaced unless the provider's Diff says otherwise (it can't, here).
            replaces = (*replaces, "provider")
        if replaces:
            step = Step(
                Op.replace,
                s.urn,
                s.type,
                s.custom,
                keys=tuple(dict.fromkeys(replaces)),
                retained_old=s.retain_on_delete or prev.retain_on_delete,
                delete_before_replace=decision.delete_before_replace,
            )
            steps.append(step)
            unknown_deps.add(s.urn)
            if s.type == T_PROVIDER:
                replaced_providers.add(s.urn)
        elif decision.changes:
            steps.append(Step(Op.update, s.urn, s.type, s.custom, keys=decision.diffs))
        else:
            steps.append(Step(Op.same, s.urn, s.type, s.custom))

    gone = [s for s in olds.values() if s.urn not in new_urns]
    for s in reversed(_topological(gone)):
        # A read resource is external: the engine drops it from state, never deletes it.
        op = Op.forget if (s.retain_on_delete or s.read_id) else Op.delete
        deferred_deletes.append(Step(op, s.urn, s.type, s.custom))
    return StepPlan(tuple(steps + deferred_deletes))
