"""The reviewable plan: what a stack update mirrors, built from the resources the program registers.

`components.mockrun` runs the real program under Pulumi's mocks and hands the registered resources
here; this module only reads them (no Pulumi import), groups them per release and destination and
renders JSON (stable, see `SCHEMA`), a rich table, or markdown for a pull request.

JSON schema ``artifact-mirrors/plan/v1`` (additive changes only; breaking ones bump the version):

    {"schema", "stack",
     "summary": {releases, image_tags, ami_copies, ami_transfers,
      launch_permissions, revocations, floating_tags, repositories, terraform_objects,
      chart_tags, resources},
     "releases": [{version, channel, yanked, reason,
        "image_tags": [{registry, repository, tag, digest, source, action: publish|unpublish, urn}],
        "chart_tags": [{registry, chart, repository, tag, digest, source, action, urn}]
                      (only in releases with Helm charts; summary.chart_tags likewise),
        "amis": [{key, partition, region, name, method: copy|transfer|read, source, provider,
                  launch_permissions: [{kind, value, action: grant|revoke}],
                  urn}]}],
     "floating_tags": [{registry, repository, tag, release, digest,
                        action: publish|unpublish, urn}],
     "repositories": [{registry, kind, repository, description, urn}],
     "providers": [{name, partition, region, profile, endpoint, urn}],
     "terraform_providers": [{provider, destination, release, kind, bucket, key, content_type,
                              sha256, action: publish|unpublish, urn}]
                            (see artifact_mirrors/terraform/plan.py),
     "resources": [{urn, type, custom, parent, provider, retain_on_delete, depends_on,
                    property_dependencies: {input: [urn]}, inputs}],
     "steps": {against: {file, stack}, estimate,
               summary: {create, update, replace, forget, delete, same},
               groups: [{release, destination, create, update, replace, forget, delete}],
               changes: [{release, destination, op: create|update|replace|forget|delete,
                          kind, name, urn, keys, retained_old, delete_before_replace}]}}

Additive fields the CLI fills from the project (``artifact_mirrors.plan_markdown``):
``amis[].source_account`` (the first-party account of a copy's source AMI) and, with
``--release`` or ``--against``, ``floating_tags[].previous`` (where the tag pointed before: the
release without this change, or in BASE; null for a new tag). With ``--release`` of a yanked
release, ``floating_tags`` also lists the tags its yank moves away from it.

``resources`` is every resource the program registers, in registration order, with the inputs the
engine would store (``__provider`` left out): the state `mirrors plan --against` diffs against.
``steps`` is only there with ``--against BASE.json``: the step plan of an update from BASE's
program to this one (see ``artifact_mirrors.steps``; counts are of provider resources, not
components). It is an offline estimate; `pulumi preview` decides.

Lists are sorted (releases by semver, everything else by its natural key), so two plans of the
same inputs are byte-identical and a diff between plans shows exactly what a change adds.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import semver
from rich.table import Table

from artifact_mirrors.regions import partition_of
from artifact_mirrors.spec.errors import PathPart, SpecError
from artifact_mirrors.spec.model import VerifyPolicy
from artifact_mirrors.spec.yamlio import Document, plain
from artifact_mirrors.steps import Differ, Op, State, Step, plan_steps
from artifact_mirrors.terraform import plan as terraform_plan

SCHEMA = "artifact-mirrors/plan/v1"

T_IMAGE_TAG = "pulumi-python:dynamic/artifact-mirrors:ImageTag"
T_CHART_TAG = "pulumi-python:dynamic/artifact-mirrors:ChartTag"
T_TRANSFER = "pulumi-python:dynamic/artifact-mirrors:AmiTransfer"
T_REVOCATION = "pulumi-python:dynamic/artifact-mirrors:LaunchPermissionRevocation"
T_REPOSITORY = "pulumi-python:dynamic/artifact-mirrors:MirrorRepository"
T_AMI_COPY = "aws:ec2/amiCopy:AmiCopy"
T_LAUNCH = "aws:ec2/amiLaunchPermission:AmiLaunchPermission"
T_PROVIDER = "pulumi:providers:aws"
T_ECR_PUBLIC = "aws:ecrpublic/repository:Repository"
T_ECR = "aws:ecr/repository:Repository"

# AmiLaunchPermission's camelCase wire names -> the spec's names.
_LAUNCH_KINDS = {
    "group": "group",
    "accountId": "account_id",
    "organizationArn": "organization_arn",
    "organizationalUnitArn": "organizational_unit_arn",
}


@dataclass
class ResourceRecord:
    """One RegisterResource call as the engine would receive it (see components.mockrun)."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    id: str
    inputs: dict[str, Any]
    retain_on_delete: bool
    protect: bool
    depends_on: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # input name -> the resources its value comes from (RegisterResource propertyDependencies)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    # A ReadResource (``Resource.get``) of an existing resource: the id read; "" otherwise.
    read_id: str = ""

    def state(self) -> State:
        return State(
            urn=self.urn,
            type=self.type,
            custom=self.custom,
            parent=self.parent,
            provider=self.provider,
            inputs={k: v for k, v in self.inputs.items() if k != "__provider"},
            retain_on_delete=self.retain_on_delete,
            depends_on=tuple(self.depends_on),
            property_dependencies={k: tuple(v) for k, v in self.property_dependencies.items()},
            read_id=self.read_id,
        )


def _version_key(v: str) -> semver.Version:
    return semver.Version.parse(v)


def _provider_endpoint(raw: Any) -> str | dict[str, str] | None:
    """``endpoints`` as the engine gets it (provider config is JSON text on the wire): the one
    URL every service uses, or service -> URL when they differ."""
    if not raw:
        return None
    blocks = json.loads(raw) if isinstance(raw, str) else raw
    urls: dict[str, str] = {k: v for b in blocks for k, v in b.items() if v}
    distinct = set(urls.values())
    return distinct.pop() if len(distinct) == 1 else dict(sorted(urls.items())) or None


def build_plan(stack: str, resources: list[ResourceRecord]) -> dict[str, Any]:
    by_type: dict[str, list[ResourceRecord]] = defaultdict(list)
    for r in resources:
        by_type[r.type].append(r)

    providers: dict[str, dict[str, Any]] = {}
    for p in by_type[T_PROVIDER]:
        region = str(p.inputs.get("region", ""))
        providers[p.urn] = {
            "name": p.name,
            "partition": partition_of(region) or "unknown",
            "region": region,
            "profile": p.inputs.get("profile"),
            # The endpoint override of a local stack (MIRRORS_AWS_ENDPOINT_URL), else None.
            "endpoint": _provider_endpoint(p.inputs.get("endpoints")),
            "urn": p.urn,
        }

    releases: dict[str, dict[str, Any]] = {}

    def release_entry(version: str) -> dict[str, Any]:
        if version not in releases:
            releases[version] = {
                "version": version,
                "channel": None,
                "yanked": False,
                "reason": None,
                "image_tags": [],
                "amis": [],
            }
        return releases[version]

    floating: list[dict[str, Any]] = []
    policies: dict[str, dict[str, Any]] = {}
    for t in by_type[T_IMAGE_TAG]:
        i = t.inputs
        policy = VerifyPolicy.from_props(i.get("verify"))
        if policy is not None:
            # One row per first-party repository: every tag of an image carries its policy.
            source = str(i["source"]).partition("@")[0]
            policies[source] = {
                "source": source,
                "required": policy.required,
                "policy": policy.describe(),
            }
        row = {
            "registry": i["registry"],
            "repository": i["repository"],
            "tag": i["tag"],
            "digest": i["digest"],
            "source": i["source"],
            "action": "publish" if i["published"] else "unpublish",
            "urn": t.urn,
        }
        if i["floating"]:
            floating.append(
                {k: row[k] for k in ("registry", "repository", "tag")}
                | {"release": i["release"], "digest": i["digest"], "action": row["action"]}
                | {"urn": t.urn}
            )
        else:
            entry = release_entry(i["release"])
            entry["image_tags"].append(row)
            if not i["published"]:
                entry["yanked"] = True

    # Helm charts: one OCI artifact per chart version; the digest is known before the push.
    for t in by_type[T_CHART_TAG]:
        i = t.inputs
        entry = release_entry(i["release"])
        # Only releases with charts carry the key (plans of image-only stacks stay as they were).
        entry.setdefault("chart_tags", []).append(
            {
                "registry": i["registry"],
                "chart": i["chart"],
                "repository": i["repository"],
                "tag": i["tag"],
                "digest": i["digest"],
                "source": i.get("source") or i.get("url"),
                "action": "publish" if i["published"] else "unpublish",
                "urn": t.urn,
            }
        )
        if not i["published"]:
            entry["yanked"] = True

    # AMI copies and transfers, keyed by the image id later resources refer to.
    amis_by_image: dict[str, dict[str, Any]] = {}
    for c in by_type[T_AMI_COPY]:
        tags = c.inputs.get("tags") or {}
        prov = providers.get(c.provider, {})
        ami = {
            "key": tags.get("mirror-edition", ""),
            "partition": prov.get("partition", "unknown"),
            "region": prov.get("region", ""),
            "name": c.inputs.get("name"),
            # read: a copy that exists already (a release back from the archive)
            "method": "read" if c.read_id else "copy",
            "source": f"{c.inputs.get('sourceAmiId')}@{c.inputs.get('sourceAmiRegion')}",
            "provider": prov.get("name"),
            "launch_permissions": [],
            "urn": c.urn,
        }
        amis_by_image[c.id] = ami
        release_entry(tags.get("mirror-release", "?"))["amis"].append(ami)
    for tr in by_type[T_TRANSFER]:
        i = tr.inputs
        ami = {
            "key": i["key"],
            "partition": partition_of(i["destination_region"]) or "unknown",
            "region": i["destination_region"],
            "name": i["name"],
            "method": "transfer",
            "source": f"{i['source_image_id']}@{i['source_region']}",
            "provider": None,
            "launch_permissions": [],
            "urn": tr.urn,
        }
        amis_by_image[str(tr.outputs.get("image_id", tr.id))] = ami
        release_entry(i["release"])["amis"].append(ami)
    # Sources that are themselves planned mirrors read better by name than by a fake id.
    for ami in amis_by_image.values():
        src_id, _, src_region = ami["source"].partition("@")
        if src_id in amis_by_image:
            ami["source"] = f"mirror in {src_region}"

    for lp in by_type[T_LAUNCH]:
        kind = next((k for k in _LAUNCH_KINDS if k in lp.inputs), "group")
        target = amis_by_image.get(str(lp.inputs.get("imageId")))
        if target is not None:
            target["launch_permissions"].append(
                {"kind": _LAUNCH_KINDS[kind], "value": lp.inputs[kind], "action": "grant"}
            )
    for rv in by_type[T_REVOCATION]:
        target = amis_by_image.get(str(rv.inputs.get("image_id")))
        if target is not None:
            target["launch_permissions"].append(
                {"kind": rv.inputs["kind"], "value": rv.inputs["value"], "action": "revoke"}
            )
            release_entry(rv.inputs["release"])["yanked"] = True

    repositories = []
    repo_types: tuple[tuple[str, str | None], ...] = (
        (T_ECR_PUBLIC, "ecr-public"),
        (T_ECR, "ecr"),
        (T_REPOSITORY, None),
    )
    for rtype, repo_kind in repo_types:
        for rp in by_type[rtype]:
            i = rp.inputs
            catalog = i.get("catalogData") or {}
            repositories.append(
                {
                    "registry": rp.name.split("/", 1)[0],
                    "kind": repo_kind or i.get("kind"),
                    "repository": i.get("repositoryName") or i.get("name"),
                    "description": catalog.get("description") or i.get("description"),
                    "urn": rp.urn,
                }
            )

    for info in releases.values():
        info["image_tags"].sort(key=lambda x: (x["registry"], x["repository"], x["tag"]))
        info.get("chart_tags", []).sort(key=lambda x: (x["registry"], x["repository"], x["tag"]))
        for ami in info["amis"]:
            ami["launch_permissions"].sort(key=lambda x: (x["kind"], x["value"]))
        info["amis"].sort(key=lambda x: (x["key"], x["partition"], x["region"]))

    ordered = [releases[v] for v in sorted(releases, key=_version_key)]
    floating.sort(key=lambda x: (x["registry"], x["repository"], x["tag"]))
    repositories.sort(key=lambda x: (x["registry"], str(x["repository"])))
    plan: dict[str, Any] = {
        "schema": SCHEMA,
        "stack": stack,
        "summary": {},
        "releases": ordered,
        "floating_tags": floating,
        "repositories": repositories,
        # The urn breaks ties (a registry's provider and an AMI provider in one region).
        "providers": sorted(
            providers.values(), key=lambda p: (p["partition"], p["region"], p["urn"])
        ),
        "terraform_providers": terraform_plan.rows(resources),
        "resources": [r.state().to_json() for r in resources],
    }
    if policies:
        # Issue 12: what each image's signatures are checked against before it is published.
        plan["signature_policies"] = [policies[k] for k in sorted(policies)]
    plan["summary"] = summarize(plan, resources=len(resources))
    return plan


def summarize(plan: dict[str, Any], resources: int) -> dict[str, int]:
    releases = plan["releases"]
    amis = [a for r in releases for a in r["amis"]]
    perms = [p for a in amis for p in a["launch_permissions"]]
    charts = sum(len(r.get("chart_tags", [])) for r in releases)
    return {
        "releases": len(releases),
        "image_tags": sum(len(r["image_tags"]) for r in releases),
        "ami_copies": sum(1 for a in amis if a["method"] == "copy"),
        "ami_transfers": sum(1 for a in amis if a["method"] == "transfer"),
        "launch_permissions": sum(1 for p in perms if p["action"] == "grant"),
        "revocations": sum(1 for p in perms if p["action"] == "revoke"),
        "floating_tags": len(plan["floating_tags"]),
        "repositories": len(plan["repositories"]),
        "terraform_objects": len(plan.get("terraform_providers", [])),
        **({"chart_tags": charts} if charts else {}),
        "resources": resources,
    }


def attach_release_metadata(plan: dict[str, Any], meta: dict[str, dict[str, Any]]) -> None:
    """Fill channel / yanked / reason from the release manifests (not visible in resources)."""
    for entry in plan["releases"]:
        m = meta.get(entry["version"], {})
        entry["channel"] = m.get("channel")
        entry["yanked"] = bool(m.get("yanked", entry["yanked"]))
        entry["reason"] = m.get("reason")


def only_release(plan: dict[str, Any], version: str) -> dict[str, Any]:
    """The plan restricted to one release and the floating tags that point at it."""
    out = dict(plan)
    out["releases"] = [r for r in plan["releases"] if r["version"] == version]
    out["floating_tags"] = [f for f in plan["floating_tags"] if f["release"] == version]
    out["terraform_providers"] = terraform_plan.only_release(
        plan.get("terraform_providers", []), version
    )
    out["summary"] = summarize(out, resources=plan["summary"]["resources"])
    return out


def to_json(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=2, sort_keys=False) + "\n"


# ---- human renderings ----------------------------------------------------------------------------


def _short(digest: str) -> str:
    return digest.replace("sha256:", "")[:12]


def _perm_text(perms: list[dict[str, Any]]) -> str:
    parts = []
    for p in perms:
        label = (
            "public" if (p["kind"], p["value"]) == ("group", "all") else f"{p['kind']}={p['value']}"
        )
        parts.append(f"{'-' if p['action'] == 'revoke' else '+'}{label}")
    return ", ".join(parts) or "private"


def ami_groups(release: dict[str, Any]) -> list[dict[str, Any]]:
    """Per (AMI key, partition): the regions, how they are made, and the permissions, for tables."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for a in release["amis"]:
        g = groups.setdefault(
            (a["key"], a["partition"]),
            {
                "key": a["key"],
                "partition": a["partition"],
                "regions": [],
                "methods": set(),
                "perms": set(),
                "name": a["name"],
            },
        )
        g["regions"].append(a["region"])
        g["methods"].add(a["method"])
        g["perms"].add(_perm_text(a["launch_permissions"]))
    return list(groups.values())


def _regions_text(regions: list[str]) -> str:
    ordered = sorted(regions)
    if len(ordered) > 3:
        return f"{len(ordered)} ({ordered[0]} … {ordered[-1]})"
    return ", ".join(ordered)


def render_tables(plan: dict[str, Any]) -> list[Table]:
    tables: list[Table] = []
    s = plan["summary"]
    summary = Table(title=f"Plan for stack {plan['stack']}", show_header=True)
    for col in (
        "releases",
        "image tags",
        "AMI copies",
        "transfers",
        "launch perms",
        "revocations",
        "floating tags",
        "repositories",
        "stack resources",
    ):
        summary.add_column(col, justify="right")
    summary.add_row(
        *(
            str(s[k])
            for k in (
                "releases",
                "image_tags",
                "ami_copies",
                "ami_transfers",
                "launch_permissions",
                "revocations",
                "floating_tags",
                "repositories",
                "resources",
            )
        )
    )
    tables.append(summary)
    for r in plan["releases"]:
        state = f"YANKED: {r['reason']}" if r["yanked"] else r["channel"] or ""
        t = Table(title=f"Release {r['version']} ({state})", show_lines=False)
        for col in ("repository:tag", "digest", "action"):
            t.add_column(col)
        for it in r["image_tags"]:
            t.add_row(f"{it['repository']}:{it['tag']}", _short(it["digest"]), it["action"])
        for ct in r.get("chart_tags", []):
            t.add_row(
                f"{ct['repository']}:{ct['tag']} (Helm chart)", _short(ct["digest"]), ct["action"]
            )
        tables.append(t)
        if r["amis"]:
            a = Table(title=f"Release {r['version']} AMIs")
            for col in ("AMI", "partition", "regions", "made by", "launch permissions"):
                a.add_column(col)
            for g in ami_groups(r):
                a.add_row(
                    g["key"],
                    g["partition"],
                    _regions_text(g["regions"]),
                    " + ".join(sorted(g["methods"])),
                    "; ".join(sorted(g["perms"])),
                )
            tables.append(a)
    if plan["floating_tags"]:
        f = Table(title="Floating tags")
        for col in ("repository:tag", "points at", "digest", "action"):
            f.add_column(col)
        for ft in plan["floating_tags"]:
            f.add_row(
                f"{ft['repository']}:{ft['tag']}", ft["release"], _short(ft["digest"]), ft["action"]
            )
        tables.append(f)
    if plan.get("terraform_providers"):
        tables.append(terraform_plan.table(plan["terraform_providers"]))
    if plan.get("signature_policies"):
        sp = Table(title="Signature policies")
        for col in ("source", "policy"):
            sp.add_column(col, overflow="fold")
        for row in plan["signature_policies"]:
            sp.add_row(row["source"], row["policy"])
        tables.append(sp)
    return tables


def render_markdown(plan: dict[str, Any]) -> str:
    """Reviewer-first markdown; the rendering lives in ``artifact_mirrors.plan_markdown``."""
    from artifact_mirrors import plan_markdown

    return plan_markdown.render(plan)


# ---- step plan against an earlier plan (`mirrors plan --against BASE.json`) ----------------------

STEP_OPS: tuple[Op, ...] = (Op.create, Op.update, Op.replace, Op.forget, Op.delete)
ESTIMATE = (
    "Offline estimate from the program's inputs and the providers' own Check and Diff "
    "(live drift not seen): `pulumi preview` decides."
)
T_RELEASE = "artifact-mirrors:index:ReleaseMirror"
T_REGISTRY = "artifact-mirrors:index:RegistryMirror"
T_AMI_MIRROR = "artifact-mirrors:index:AmiMirror"
T_PARTITION = "artifact-mirrors:index:AwsPartition"
T_TF_MIRROR = "artifact-mirrors:index:TerraformProviderMirror"


class BaseError(ValueError):
    """BASE is not a plan JSON this version can diff against."""

    def __init__(self, problem: str, got: object) -> None:
        self.problem = problem
        self.got = got
        super().__init__(f"{problem} (got {got})")


def load_base(text: str) -> tuple[str, list[State]]:
    """(stack, resources) of a plan JSON written by `mirrors plan --format json`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaseError("not JSON", f"{exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise BaseError(f"not an {SCHEMA} plan", f"schema {got}")
    resources = data.get("resources")
    if not isinstance(resources, list):
        raise BaseError("a plan without 'resources' (an older mirrors plan)", "no resources")
    try:
        return str(data.get("stack")), [State.from_json(r) for r in resources]
    except (KeyError, TypeError, AttributeError) as exc:
        raise BaseError("a malformed 'resources' entry", repr(exc)) from None


def short_type(type_: str) -> str:
    """``aws:ec2/amiCopy:AmiCopy`` -> ``AmiCopy``; ECR kinds keep their module."""
    if type_ == T_PROVIDER:
        return "aws.Provider"
    name = type_.rsplit(":", 1)[-1]
    if type_ in (T_ECR, T_ECR_PUBLIC):
        return f"{type_.split(':')[1].split('/')[0]}.{name}"
    return name


def _place(urn: str, by_urn: dict[str, State]) -> tuple[str, str]:
    """(release, destination) a resource belongs to, from its parents and inputs."""
    s = by_urn.get(urn)
    if s is None:
        return "-", "-"
    chain: list[State] = []
    cur: State | None = s
    while cur is not None:
        chain.append(cur)
        cur = by_urn.get(cur.parent) if cur.parent else None
    types = {c.type: c for c in chain}
    i = s.inputs
    if T_RELEASE in types:
        release = types[T_RELEASE].name
    elif s.type == T_IMAGE_TAG and i.get("floating"):
        release = "floating tags"
    elif T_REGISTRY in types:
        release = "repositories"
    elif T_TF_MIRROR in types:
        release = "terraform index"
    else:
        release = "infrastructure"
    if s.type in (T_IMAGE_TAG, T_CHART_TAG):
        destination = str(i.get("registry", "-"))
    elif T_REGISTRY in types:
        destination = types[T_REGISTRY].name
    elif T_AMI_MIRROR in types:
        destination = types[T_AMI_MIRROR].name.rsplit("@", 1)[-1]
    elif T_PARTITION in types:
        destination = types[T_PARTITION].name
    elif s.name.startswith("terraform/"):
        # terraform/PROVIDER@DESTINATION/KEY (naming.terraform_object)
        destination = s.name.split("/", 2)[1]
    else:
        destination = "-"
    return release, destination


def _release_key(name: str) -> tuple[int, Any]:
    try:
        return (0, _version_key(name))
    except ValueError:
        return (1, name)


def build_steps(
    base: list[State],
    resources: list[ResourceRecord],
    differ: Differ | None,
    *,
    base_file: str,
    base_stack: str,
) -> dict[str, Any]:
    """The ``steps`` object of the plan JSON: an update from ``base`` to ``resources``."""
    new = [r.state() for r in resources]
    result = plan_steps(base, new, differ)
    by_urn = {s.urn: s for s in base} | {s.urn: s for s in new}
    groups: dict[tuple[str, str], Counter[str]] = {}
    changes: list[dict[str, Any]] = []
    for step in result.steps:
        if not step.custom:
            continue
        release, destination = _place(step.urn, by_urn)
        counts = groups.setdefault((release, destination), Counter())
        counts[step.op.value] += 1
        if step.op is Op.same:
            continue
        changes.append(_change_row(step, release, destination))
    summary = {op.value: 0 for op in (*STEP_OPS, Op.same)}
    for counts in groups.values():
        for op, n in counts.items():
            # "read" (a release back from the archive reads its AMI copies) only when there is one
            summary[op] = summary.get(op, 0) + n
    rows = [
        {"release": rel, "destination": dst} | {op.value: counts[op.value] for op in STEP_OPS}
        for (rel, dst), counts in sorted(
            groups.items(), key=lambda kv: (_release_key(kv[0][0]), kv[0][1])
        )
        if any(counts[op.value] for op in STEP_OPS)
    ]
    return {
        "against": {"file": base_file, "stack": base_stack},
        "estimate": ESTIMATE,
        "summary": summary,
        "groups": rows,
        "changes": changes,
    }


def _change_row(step: Step, release: str, destination: str) -> dict[str, Any]:
    return {
        "release": release,
        "destination": destination,
        "op": step.op.value,
        "kind": short_type(step.type),
        "name": step.name,
        "urn": step.urn,
        "keys": list(step.keys),
        "retained_old": step.retained_old,
        "delete_before_replace": step.delete_before_replace,
    }


def _what(row: dict[str, Any]) -> str:
    keys = ", ".join(row["keys"])
    if row["op"] == "update":
        return f"changes {keys}" if keys else ""
    if row["op"] == "replace":
        if row["retained_old"]:
            return f"new one for {keys}; the old one is kept (retain_on_delete)"
        order = "delete first" if row["delete_before_replace"] else "create first"
        return f"new one for {keys}; old one deleted ({order})"
    if row["op"] == "forget":
        return "left in place, dropped from state (retain_on_delete)"
    if row["op"] == "delete":
        return "DELETED"
    if row["op"] == "read":
        return "exists already (archive record): read, not copied"
    return ""


def change_groups(steps: dict[str, Any]) -> list[dict[str, Any]]:
    """Changes folded per (release, destination, op, kind, what), in plan order of first sight."""
    folded: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    for row in steps["changes"]:
        what = _what(row)
        key = (row["release"], row["destination"], row["op"], row["kind"], what)
        entry = folded.setdefault(
            key,
            {
                "release": row["release"],
                "destination": row["destination"],
                "op": row["op"],
                "kind": row["kind"],
                "what": what,
                "count": 0,
                "example": row["name"],
            },
        )
        entry["count"] += 1
    order = {op.value: i for i, op in enumerate(STEP_OPS)}
    return sorted(
        folded.values(),
        key=lambda e: (
            _release_key(e["release"]),
            e["destination"],
            order.get(e["op"], len(order)),
            e["kind"],
        ),
    )


def render_step_tables(plan: dict[str, Any]) -> list[Table | str]:
    steps = plan["steps"]
    s = steps["summary"]
    against = steps["against"]
    out: list[Table | str] = []
    t = Table(
        title=f"Update of stack {plan['stack']} from {against['file']} (stack {against['stack']})"
    )
    for col in ("release", "destination", *(op.value for op in STEP_OPS)):
        t.add_column(col, justify="left" if col in ("release", "destination") else "right")
    for g in steps["groups"]:
        t.add_row(g["release"], g["destination"], *(str(g[op.value]) for op in STEP_OPS))
    t.add_row("total", "", *(str(s[op.value]) for op in STEP_OPS), end_section=True)
    out.append(t)
    if steps["changes"]:
        c = Table(title="What changes")
        for col in ("release", "destination", "step", "resources", "count", "what", "e.g."):
            c.add_column(col, justify="right" if col == "count" else "left")
        for e in change_groups(steps):
            c.add_row(
                e["release"],
                e["destination"],
                e["op"],
                e["kind"],
                str(e["count"]),
                e["what"],
                e["example"],
            )
        out.append(c)
    read = f" {s['read']} read (archived AMI copies)." if s.get("read") else ""
    out.append(f"{s['same']} resources unchanged.{read} {steps['estimate']}")
    return out


def render_steps_markdown(plan: dict[str, Any]) -> str:
    """The step plan as markdown (``artifact_mirrors.plan_markdown``)."""
    from artifact_mirrors import plan_markdown

    return plan_markdown.render_steps(plan, change_groups(plan["steps"]))


# ---- the providers' Check, located in the spec ---------------------------------------------------

# A Check failure's property -> the key of the registry entry it comes from.
_REGISTRY_KEYS = {
    "credentials_env": "credentials",
    "credentials": "credentials",
    "kind": "kind",
    "registry_kind": "kind",
    "namespace": "namespace",
    "api_base": "host",
    "repository": "host",
    "ca_file": "tls",
    "tls_verify": "tls",
    "insecure": "insecure",
}
_LABEL_KEYS = {"description": "image_description", "full_description": "image_full_description"}


@dataclass(frozen=True)
class CheckFailure:
    """One failure of a dynamic provider's Check (see components.mockrun.run_checks)."""

    type: str
    name: str
    inputs: dict[str, Any]
    property: str
    reason: str


def locate_check_failures(doc: Document, failures: list[CheckFailure]) -> list[SpecError]:
    """Each distinct failure as a located spec error, at the spec entry the resource comes from.

    A registry's resources (its ImageTags and MirrorRepositories are named ``REGISTRY/...``) map
    to that registry's entry in ``registries``; label problems to ``labels``; anything else to
    the ``amis`` section or the top of the file.
    """
    root = doc.root
    registries = root.get("registries") if hasattr(root, "get") else None
    index = {
        str(r.get("name")): i
        for i, r in enumerate(registries or [])
        if hasattr(r, "get") and r.get("name") is not None
    }
    grouped: dict[tuple[tuple[PathPart, ...], str], list[CheckFailure]] = {}
    for f in failures:
        registry = str(f.inputs.get("registry") or f.name.split("/", 1)[0])
        path: tuple[PathPart, ...]
        if f.property in _LABEL_KEYS and f.type == T_REPOSITORY:
            path = ("labels", _LABEL_KEYS[f.property])
        elif registry in index:
            path = ("registries", index[registry], _REGISTRY_KEYS.get(f.property, "name"))
        elif f.type in (T_TRANSFER, T_REVOCATION):
            path = ("amis", "partitions")
        else:
            path = ()
        grouped.setdefault((path, f.reason), []).append(f)
    errors = []
    for (path, reason), group in grouped.items():
        node = _node(root, path)
        if isinstance(node, dict) and "from" in node:
            got: object = f"from: {node['from']}"
        elif path and path[-1] == "credentials":
            got = "from: docker-config (the default)"
        else:
            got = node
        first = group[0]
        many = f" and {len(group) - 1} more" if len(group) > 1 else ""
        hint = (
            f"{short_type(first.type)}'s Check rejects {first.name}{many} "
            f"({first.property}), so `pulumi preview` would fail; see 'Spec reference' in "
            "README.md"
        )
        problem = reason.rstrip(".")
        errors.append(SpecError(doc.file, doc.line_of(path), path, problem, got, True, hint))
    return sorted(errors, key=lambda e: (e.line or 0, str(e)))


def _node(root: Any, path: tuple[PathPart, ...]) -> Any:
    node = root
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return plain(node)
