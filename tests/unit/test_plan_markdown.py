"""The reviewer's markdown (artifact_mirrors/plan_markdown.py) on small hand-built plans."""

from __future__ import annotations

import copy
from typing import Any

from artifact_mirrors import plan_markdown
from artifact_mirrors.plan import change_groups

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
T = "urn:pulumi:s::artifact-mirrors::"
TAG = "artifact-mirrors:index:ReleaseMirror$artifact-mirrors:index:ImageMirror$"
TAG += "pulumi-python:dynamic/artifact-mirrors:ImageTag::"
FLOAT = "artifact-mirrors:index:RegistryMirror$pulumi-python:dynamic/artifact-mirrors:ImageTag::"


def tag(registry: str, image: str, version: str, digest: str, host: str) -> dict[str, Any]:
    return {
        "registry": registry,
        "repository": f"{host}/{image}",
        "tag": version,
        "digest": digest,
        "source": f"public.ecr.aws/gravitational/{image}@{digest}",
        "action": "publish",
        "urn": f"{T}{TAG}{registry}/{image}:{version}",
    }


def floating(registry: str, image: str, t: str, release: str, host: str) -> dict[str, Any]:
    return {
        "registry": registry,
        "repository": f"{host}/{image}",
        "tag": t,
        "release": release,
        "digest": D2,
        "action": "publish",
        "urn": f"{T}{FLOAT}{registry}/{image}:{t}",
    }


HOSTS = {"dockerhub": "docker.io/gravitational", "quay": "quay.io/gravitational"}


def plan() -> dict[str, Any]:
    tags = [
        tag(reg, img, "18.6.6", D2 if img == "teleport" else D1, host)
        for reg, host in HOSTS.items()
        for img in ("teleport", "tbot")
    ]
    ami = {
        "key": "oss-x86_64",
        "partition": "aws",
        "name": "teleport-oss-18.6.6-x86_64",
        "method": "copy",
        "source": "ami-0123456789abcdef0@us-west-2",
        "source_account": "146628656107",
        "provider": "aws/x",
        "launch_permissions": [{"kind": "group", "value": "all", "action": "grant"}],
        "urn": "",
    }
    amis = [dict(ami, region=r, urn=f"{T}ami/{r}") for r in ("us-east-1", "us-west-2")]
    amis.append(
        dict(
            ami,
            region="eu-west-1",
            urn=f"{T}ami/eu-west-1",
            launch_permissions=[{"kind": "account_id", "value": "111122223333", "action": "grant"}],
        )
    )
    floats = [
        dict(floating(reg, img, t, "18.6.6", host), previous=prev)
        for reg, host in HOSTS.items()
        for img in ("teleport", "tbot")
        for t, prev in (("18", "18.1.2"), ("latest", "18.1.2"), ("18.6", None))
    ]
    return {
        "schema": "artifact-mirrors/plan/v1",
        "stack": "prod",
        "summary": {
            "releases": 1,
            "image_tags": 4,
            "ami_copies": 3,
            "ami_transfers": 0,
            "launch_permissions": 3,
            "revocations": 0,
            "floating_tags": 12,
            "repositories": 0,
            "resources": 40,
        },
        "releases": [
            {
                "version": "18.6.6",
                "channel": "stable",
                "yanked": False,
                "reason": None,
                "image_tags": tags,
                "amis": amis,
            }
        ],
        "floating_tags": floats,
        "repositories": [],
        "providers": [],
        "resources": [],
    }


def test_one_release_summary_first_singular_full_digests_and_sources() -> None:
    text = plan_markdown.render(plan())
    lines = text.splitlines()
    assert lines[:5] == [
        "## Mirror plan: stack `prod`",
        "",
        "**1 release** (18.6.6) · 4 image tags on 2 registries · 3 AMI copies + 0 GovCloud "
        "transfers in 3 regions · 3 launch permissions · 0 revocations · 12 floating tags · "
        "0 repositories · 40 resources in the stack",
        "",
        "> **Public:** 2 mirrored AMIs shared with every AWS account (launch permission "
        "`group=all`).",
    ]
    assert lines[5] == "> **Shared with:** `account_id=111122223333` (1)."
    assert "| 18.6.6 | stable | publish | 4 | 3 | 3 (2 public) | 12 |" in lines
    assert f"| teleport | `public.ecr.aws/gravitational/teleport@{D2}` |" in lines
    assert f"| `docker.io/gravitational/tbot:18.6.6` | `{D1}` | publish |" in lines
    assert (
        "<summary>dockerhub (`docker.io/gravitational/*`): 2 tags `18.6.6`, publish</summary>"
        in lines
    )
    assert (
        "| oss-x86_64 | aws | `ami-0123456789abcdef0` in us-west-2, account `146628656107` | "
        "eu-west-1 | copy | account_id=`111122223333` | `teleport-oss-18.6.6-x86_64` |" in lines
    )
    assert (
        "| oss-x86_64 | aws | `ami-0123456789abcdef0` in us-west-2, account `146628656107` | "
        "us-east-1, us-west-2 | copy | **public** | `teleport-oss-18.6.6-x86_64` |" in lines
    )


def test_floating_tags_are_grouped_with_where_they_move_from() -> None:
    text = plan_markdown.render(plan())
    section = text.split("### Floating tags (12)\n\n", 1)[1].split("\n\n", 1)[0]
    assert section.splitlines() == [
        "- `18`, `latest` -> 18.6.6 (was 18.1.2) on 2 registries x 2 images",
        "- `18.6` -> 18.6.6 (new) on 2 registries x 2 images",
    ]
    # Without "previous" (the whole stack's desired state) no "was"; a partial set lists them.
    p = plan()
    p["floating_tags"] = [
        {k: v for k, v in f.items() if k != "previous"}
        for f in p["floating_tags"]
        if f["tag"] == "latest" and not (f["registry"] == "quay" and "tbot" in f["urn"])
    ]
    lines = plan_markdown.floating_section(p["floating_tags"])
    assert lines[2] == (
        "- `latest` -> 18.6.6 on 3 repositories: `docker.io/gravitational/tbot`, "
        "`docker.io/gravitational/teleport`, `quay.io/gravitational/teleport`"
    )


def test_a_plan_over_the_budget_folds_step_by_step_and_says_what() -> None:
    p = plan()
    full = plan_markdown.render(p)
    assert "Folded" not in full
    budget = len(full) - 100
    folded = plan_markdown.render(p, budget=budget)
    assert len(folded) <= budget
    assert (
        "> **Folded to stay under GitHub's 65,536-character comment limit:** the "
        "per-destination tag tables (each destination tag carries its image's digest). "
        "`mirrors plan --format json` has everything." in folded.splitlines()
    )
    assert "- dockerhub (`docker.io/gravitational/*`): 2 tags `18.6.6`, publish" in folded
    # Many releases: the oldest release sections go, the summary row of each stays.
    many = copy.deepcopy(p)
    many["releases"] = []
    for minor in range(200):
        r = copy.deepcopy(p["releases"][0])
        r["version"] = f"18.{minor}.0"
        many["releases"].append(r)
    text = plan_markdown.render(many)
    assert len(text) < plan_markdown.LIMIT
    banner = next(line for line in text.splitlines() if line.startswith("> **Folded"))
    assert "the sections of 18.0.0, 18.1.0, " in banner
    assert "| 18.0.0 | stable | publish | 4 | 3 | 3 (2 public) | 0 |" in text
    assert "### 18.199.0 (stable)" in text
    assert "### 18.0.0 (stable)" not in text


def test_unknown_kinds_get_a_section_each() -> None:
    p = plan()
    release_urn = f"{T}artifact-mirrors:index:ReleaseMirror::18.6.6"
    p["resources"] = [
        {"urn": release_urn, "type": "artifact-mirrors:index:ReleaseMirror", "custom": False},
        {
            "urn": f"{T}x$pulumi-python:dynamic/artifact-mirrors:ChartTag::"
            "oci/teleport-kube:18.6.6",
            "type": "pulumi-python:dynamic/artifact-mirrors:ChartTag",
            "custom": True,
            "parent": release_urn,
            "inputs": {"repository": "oci://r/teleport-kube", "digest": D1, "description": "x"},
        },
        {
            "urn": f"{T}pulumi-python:dynamic/artifact-mirrors:ProviderMirror::teleport",
            "type": "pulumi-python:dynamic/artifact-mirrors:ProviderMirror",
            "custom": True,
            "parent": "",
            "inputs": {"namespace": "gravitational", "type": "teleport"},
        },
    ]
    p["releases"][0]["charts"] = [{"name": "teleport-kube", "digest": D1, "urn": "u"}]
    text = plan_markdown.render(p)
    release_part = text.split("### 18.6.6 (stable)", 1)[1].split("### Floating", 1)[0]
    assert "**ChartTag**: 1 resource\n\n| name | repository | digest |" in release_part
    assert f"| `oci/teleport-kube:18.6.6` | `oci://r/teleport-kube` | `{D1}` |" in release_part
    assert f"**Charts**\n\n| name | digest |\n|---|---|\n| `teleport-kube` | `{D1}` |" in (
        release_part
    )
    assert "**ProviderMirror**: 1 resource\n\n| name | namespace | type |" in text
    assert "| 18.6.6 | stable | publish | 4 | 3 | 3 (2 public) | 12 | 1 |" in text


def test_step_plan_calls_out_public_grants_and_deletions() -> None:
    p = plan()
    p["steps"] = {
        "against": {"file": "BASE.json", "stack": "prod"},
        "estimate": "Offline estimate.",
        "summary": {"create": 2, "update": 0, "replace": 0, "forget": 0, "delete": 1, "same": 5},
        "groups": [
            {"release": "18.6.6", "destination": "aws", "create": 2, "update": 0}
            | {"replace": 0, "forget": 0, "delete": 0},
            {"release": "infrastructure", "destination": "-", "create": 0, "update": 0}
            | {"replace": 0, "forget": 0, "delete": 1},
        ],
        "changes": [
            {
                "release": "18.6.6",
                "destination": "aws",
                "op": "create",
                "kind": kind,
                "name": name,
                "urn": "",
                "keys": [],
                "retained_old": False,
                "delete_before_replace": False,
            }
            for kind, name in (
                ("AmiCopy", "18.6.6/oss-x86_64@us-east-1"),
                ("AmiLaunchPermission", "18.6.6/oss-x86_64@us-east-1/group=all"),
            )
        ]
        + [
            {
                "release": "infrastructure",
                "destination": "-",
                "op": "delete",
                "kind": "aws.Provider",
                "name": "aws/eu-south-1",
                "urn": "",
                "keys": [],
                "retained_old": False,
                "delete_before_replace": False,
            }
        ],
    }
    text = plan_markdown.render_steps(p, change_groups(p["steps"]))
    lines = text.splitlines()
    assert lines[:9] == [
        "## Update of stack `prod` from `BASE.json`",
        "",
        "2 create · 0 update · 0 replace · 0 forget · 1 delete · 5 unchanged",
        "",
        "> Offline estimate.",
        "",
        "**Releases this update touches:** 18.6.6",
        "",
        "> **Public:** 1 AMI launch permission `group=all` created: those AMI copies become "
        "public.",
    ]
    assert "> **Deleted:** 1 resource (aws.Provider)." in lines
    assert "### Floating tags that move (12)" in lines
    assert "### 18.6.6 (stable)" in lines
