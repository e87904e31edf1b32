"""The Terraform provider half of `mirrors plan`: every mirror object the program registers.

Rows (plan JSON ``terraform_providers``, sorted by provider, destination, release, key)::

    {provider, destination, release, kind: zip|sums|sig|document|index, bucket, key,
     content_type, sha256, action: publish|unpublish, urn}

``release`` is the version an object belongs to, or ``index`` for the documents every release
shares (``versions`` / ``index.json`` / ``.well-known/terraform.json``); ``sha256`` is the pinned
file's, or the generated document's.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from artifact_mirrors.plan import ResourceRecord

T_PROVIDER_FILE = "pulumi-python:dynamic/artifact-mirrors:ProviderFile"
T_BUCKET_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
T_VERSION_MIRROR = "artifact-mirrors:index:TerraformVersionMirror"
INDEX_NAMES = ("versions", "index.json", "terraform.json")


def _where(name: str) -> tuple[str, str]:
    """``terraform/PROVIDER@DEST/KEY`` -> (PROVIDER, DEST)."""
    head = name.removeprefix("terraform/").split("/", 1)[0]
    provider, _, dest = head.partition("@")
    return provider, dest


def rows(resources: list[ResourceRecord]) -> list[dict[str, Any]]:
    by_urn = {r.urn: r for r in resources}
    out: list[dict[str, Any]] = []
    for r in resources:
        if r.type == T_PROVIDER_FILE:
            i = r.inputs
            provider, dest = _where(r.name)
            out.append(
                {
                    "provider": provider,
                    "destination": dest,
                    "release": i["release"],
                    "kind": i["kind"],
                    "bucket": i["bucket"],
                    "key": i["key"],
                    "content_type": i["content_type"],
                    "sha256": i["sha256"],
                    "action": "publish" if i["published"] else "unpublish",
                    "urn": r.urn,
                }
            )
        elif r.type == T_BUCKET_OBJECT and r.name.startswith("terraform/"):
            i = r.inputs
            provider, dest = _where(r.name)
            parent = by_urn.get(r.parent)
            release = (
                parent.name.split("/", 1)[0]
                if parent is not None and parent.type == T_VERSION_MIRROR
                else "index"
            )
            key = str(i.get("key"))
            content = i.get("content")
            out.append(
                {
                    "provider": provider,
                    "destination": dest,
                    "release": release,
                    "kind": "index" if key.rsplit("/", 1)[-1] in INDEX_NAMES else "document",
                    "bucket": i.get("bucket"),
                    "key": key,
                    "content_type": i.get("contentType"),
                    "sha256": hashlib.sha256(content.encode()).hexdigest()
                    if isinstance(content, str)
                    else None,
                    "action": "publish",
                    "urn": r.urn,
                }
            )
    return sorted(out, key=lambda x: (x["provider"], x["destination"], x["release"], x["key"]))


def only_release(rows_: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    return [r for r in rows_ if r["release"] in (version, "index")]


def _groups(rows_: list[dict[str, Any]]) -> list[tuple[tuple[str, str, str], dict[str, int]]]:
    groups: dict[tuple[str, str, str], dict[str, int]] = {}
    for r in rows_:
        g = groups.setdefault((r["provider"], r["destination"], r["release"]), {})
        label = f"{r['kind']} {r['action']}" if r["action"] != "publish" else r["kind"]
        g[label] = g.get(label, 0) + 1
    return sorted(groups.items())


def table(rows_: list[dict[str, Any]]) -> Table:
    t = Table(title="Terraform provider mirrors")
    for col in ("provider", "destination", "release", "bucket", "objects"):
        t.add_column(col)
    buckets = {(r["provider"], r["destination"]): r["bucket"] for r in rows_}
    for (provider, dest, release), counts in _groups(rows_):
        t.add_row(
            provider,
            dest,
            release,
            str(buckets[(provider, dest)]),
            ", ".join(f"{n} {k}" for k, n in sorted(counts.items())),
        )
    return t


def markdown(rows_: list[dict[str, Any]]) -> list[str]:
    lines = [
        "### Terraform provider mirrors",
        "",
        "| provider | destination | release | key | kind | sha256 | action |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows_:
        sha = (r["sha256"] or "")[:12]
        lines.append(
            f"| {r['provider']} | {r['destination']} | {r['release']} | `{r['key']}` | "
            f"{r['kind']} | `{sha}` | {r['action']} |"
        )
    lines.append("")
    return lines
