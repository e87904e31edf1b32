"""The reviewable plan: what a stack update mirrors, built from the resources the program registers.

`components.mockrun` runs the real program under Pulumi's mocks and hands the registered resources
here; this module only reads them (no Pulumi import), groups them per release and destination and
renders JSON (stable, see `SCHEMA`), a rich table, or markdown for a pull request.

JSON schema ``artifact-mirrors/plan/v1`` (additive changes only; breaking ones bump the version):

    {"schema", "stack",
     "summary": {releases, image_tags, ami_copies, ami_transfers,
      launch_permissions, revocations, floating_tags, repositories, resources},
     "releases": [{version, channel, yanked, reason,
        "image_tags": [{registry, repository, tag, digest, source, action: publish|unpublish, urn}],
        "amis": [{key, partition, region, name, method: copy|transfer, source, provider,
                  launch_permissions: [{kind, value, action: grant|revoke}],
                  urn}]}],
     "floating_tags": [{registry, repository, tag, release, digest,
                        action: publish|unpublish, urn}],
     "repositories": [{registry, kind, repository, description, urn}],
     "providers": [{name, partition, region, profile, urn}]}

Lists are sorted (releases by semver, everything else by its natural key), so two plans of the
same inputs are byte-identical and a diff between plans shows exactly what a change adds.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import semver
from rich.table import Table

from artifact_mirrors.regions import partition_of

SCHEMA = "artifact-mirrors/plan/v1"

T_IMAGE_TAG = "pulumi-python:dynamic/artifact-mirrors:ImageTag"
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


def _version_key(v: str) -> semver.Version:
    return semver.Version.parse(v)


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
    for t in by_type[T_IMAGE_TAG]:
        i = t.inputs
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
            "method": "copy",
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
        "providers": sorted(providers.values(), key=lambda p: (p["partition"], p["region"])),
    }
    plan["summary"] = summarize(plan, resources=len(resources))
    return plan


def summarize(plan: dict[str, Any], resources: int) -> dict[str, int]:
    releases = plan["releases"]
    amis = [a for r in releases for a in r["amis"]]
    perms = [p for a in amis for p in a["launch_permissions"]]
    return {
        "releases": len(releases),
        "image_tags": sum(len(r["image_tags"]) for r in releases),
        "ami_copies": sum(1 for a in amis if a["method"] == "copy"),
        "ami_transfers": sum(1 for a in amis if a["method"] == "transfer"),
        "launch_permissions": sum(1 for p in perms if p["action"] == "grant"),
        "revocations": sum(1 for p in perms if p["action"] == "revoke"),
        "floating_tags": len(plan["floating_tags"]),
        "repositories": len(plan["repositories"]),
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
    return tables


def render_markdown(plan: dict[str, Any]) -> str:
    s = plan["summary"]
    lines = [
        f"## Mirror plan: stack `{plan['stack']}`",
        "",
        f"{s['releases']} releases · {s['image_tags']} image tags · {s['ami_copies']} AMI copies · "
        f"{s['ami_transfers']} GovCloud transfers · {s['launch_permissions']} launch permissions · "
        f"{s['revocations']} revocations · {s['floating_tags']} floating tags · "
        f"{s['resources']} resources in the stack",
        "",
    ]
    for r in plan["releases"]:
        head = f"### {r['version']}"
        if r["yanked"]:
            head += f" — **YANKED** ({r['reason']}): unpublished everywhere"
        lines += [head, "", "| registry | repository:tag | digest | action |", "|---|---|---|---|"]
        for it in r["image_tags"]:
            lines.append(
                f"| {it['registry']} | `{it['repository']}:{it['tag']}` | "
                f"`{_short(it['digest'])}` | {it['action']} |"
            )
        if r["amis"]:
            lines += [
                "",
                "| AMI | partition | regions | made by | launch permissions |",
                "|---|---|---|---|---|",
            ]
            for g in ami_groups(r):
                lines.append(
                    f"| {g['key']} | {g['partition']} | {_regions_text(g['regions'])} | "
                    f"{' + '.join(sorted(g['methods']))} | "
                    f"{'; '.join(sorted(g['perms']))} |"
                )
        lines.append("")
    if plan["floating_tags"]:
        lines += [
            "### Floating tags",
            "",
            "| registry | repository:tag | points at | action |",
            "|---|---|---|---|",
        ]
        for ft in plan["floating_tags"]:
            lines.append(
                f"| {ft['registry']} | `{ft['repository']}:{ft['tag']}` | "
                f"{ft['release']} | {ft['action']} |"
            )
        lines.append("")
    return "\n".join(lines)
