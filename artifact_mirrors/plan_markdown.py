"""The plan as a reviewer reads it in a pull request: `mirrors plan --format markdown`.

``artifact_mirrors.plan`` builds the plan (a dict, schema ``artifact-mirrors/plan/v1``); this
module only renders it, summary first:

* the counts, then what becomes public (AMI launch permissions ``group=all``) or is shared with
  accounts and organisations, then one row per release;
* per release, per destination: every image with its full source ``repository@digest``, every
  destination tag (full digests, folded in ``<details>``), every AMI with its source id, account
  and region, the regions it is copied to and its launch permissions;
* floating tags grouped: ``18``, ``18.6``, ``latest`` -> 18.6.6 (was 18.1.2) on 3 registries x
  11 images (``was`` when the plan knows it: ``--release`` and ``--against``);
* the repositories, listed per registry;
* a section per resource kind this module does not know (so a new artifact kind shows up before
  anyone writes its renderer), and a generic table for any list a release entry or the plan
  gains.

GitHub refuses a comment over 65,536 characters
(https://github.com/orgs/community/discussions/41331), so :func:`fit` renders at successive
levels of folding until the text fits and says what it left out; the JSON has everything.

The step plan (``--against``) renders the same way: what the update does first (counts, public
grants, deletions, floating tags that move), per release and destination, then the releases it
touches in full.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from artifact_mirrors.floating import compute_floating
from artifact_mirrors.spec.model import Project, Release

LIMIT = 65_536  # GitHub's limit for an issue or pull request comment body
# Room for what a workflow wraps around the plan (a heading, a marker comment).
BUDGET = LIMIT - 1_536
FOLD_ROWS = 12  # a table with more rows than this goes into <details>
JSON_HINT = "`mirrors plan --format json` has everything"
Counter_ = defaultdict[str, int]

T_IMAGE_TAG = "pulumi-python:dynamic/artifact-mirrors:ImageTag"
# Resource types the sections below already show (the rest get a section per kind).
KNOWN_TYPES = frozenset(
    {
        T_IMAGE_TAG,
        "pulumi-python:dynamic/artifact-mirrors:AmiTransfer",
        "pulumi-python:dynamic/artifact-mirrors:LaunchPermissionRevocation",
        "pulumi-python:dynamic/artifact-mirrors:MirrorRepository",
        "aws:ec2/amiCopy:AmiCopy",
        "aws:ec2/amiLaunchPermission:AmiLaunchPermission",
        "aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission",
        "aws:ec2/imageBlockPublicAccess:ImageBlockPublicAccess",
        "aws:ecrpublic/repository:Repository",
        "aws:ecr/repository:Repository",
        "pulumi:providers:aws",
    }
)
T_RELEASE = "artifact-mirrors:index:ReleaseMirror"
# Keys of a release entry / of the plan that have their own section.
RELEASE_KEYS = frozenset({"version", "channel", "yanked", "reason", "image_tags", "amis"})
PLAN_KEYS = frozenset(
    {
        "schema",
        "stack",
        "summary",
        "releases",
        "floating_tags",
        "repositories",
        "providers",
        "resources",
        "steps",
        "signature_policies",
    }
)
# Inputs worth a column when a resource kind is unknown here, in this order.
PREFERRED_INPUTS = (
    "registry",
    "repository",
    "tag",
    "version",
    "release",
    "digest",
    "source",
    "sha256",
    "shasum",
    "url",
    "os",
    "arch",
    "platform",
    "filename",
)
NOISY_INPUTS = ("description", "full_description", "credentials", "ca_file", "tls_verify")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def cell(value: object) -> str:
    """Free text in a table cell: pipes escaped, one line."""
    return " ".join(str(value).split()).replace("|", "\\|")


def code(value: object) -> str:
    return f"`{value}`"


def table(
    head: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[int] = ()
) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(head))]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def details(summary: str, body: list[str]) -> list[str]:
    # A blank line after <summary> and before </details>: GitHub renders the markdown inside.
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


def maybe_fold(summary: str, body: list[str], rows: int) -> list[str]:
    return details(summary, body) if rows > FOLD_ROWS else [*body, ""]


# ---- folding levels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fold:
    """What a rendering leaves out to fit the budget (each level adds one)."""

    tag_tables: bool = False  # per-destination tag tables -> one line each
    repository_lists: bool = False  # repository lists -> counts per registry
    older_images: bool = False  # image tables of all but the newest release -> one line
    change_rows: bool = False  # step plan: the folded change rows -> only the counts
    dropped_releases: tuple[str, ...] = ()  # release sections left out (summary row kept)
    # Other artifact kinds' object tables -> counts; folded with the tag tables, and named in
    # the banner only when the plan has such tables.
    other_rows: bool = False


def _fold_notes(fold: Fold) -> list[str]:
    notes = []
    if fold.tag_tables:
        notes.append(
            "the per-destination tag tables (each destination tag carries its image's digest)"
        )
    if fold.other_rows:
        notes.append("the object tables of other artifact kinds (counts kept)")
    if fold.repository_lists:
        notes.append("the repository lists (counts per registry kept)")
    if fold.older_images:
        notes.append("the image tables of all releases but the newest")
    if fold.change_rows:
        notes.append("the list of changed resources (counts per release and destination kept)")
    if fold.dropped_releases:
        notes.append(f"the sections of {', '.join(fold.dropped_releases)} (summary rows kept)")
    return notes


def fit(render: Callable[[Fold], str], releases: Sequence[str], budget: int = BUDGET) -> str:
    """``render`` at the first level of folding that fits in ``budget`` characters."""
    fold = Fold()
    levels: tuple[Callable[[Fold], Fold], ...] = (
        lambda f: replace(f, tag_tables=True),
        lambda f: replace(f, repository_lists=True),
        lambda f: replace(f, older_images=True),
        lambda f: replace(f, change_rows=True),
    )
    text = render(fold)
    for level in levels:
        if len(text) <= budget:
            return text
        fold = level(fold)
        text = render(fold)
    dropped: list[str] = []
    for version in releases[:-1]:  # oldest first; the newest release is always shown
        if len(text) <= budget:
            break
        dropped.append(version)
        text = render(replace(fold, dropped_releases=tuple(dropped)))
    if len(text) > budget:
        # Nothing left to fold gracefully: cut at a line boundary and say so.
        cut = text[: budget - 200].rsplit("\n", 1)[0]
        text = f"{cut}\n\n**Cut here to stay under {LIMIT:,} characters**: {JSON_HINT}.\n"
    return text


def _fold_banner(fold: Fold) -> list[str]:
    notes = _fold_notes(fold)
    if not notes:
        return []
    return [
        f"> **Folded to stay under GitHub's {LIMIT:,}-character comment limit:** "
        + "; ".join(notes)
        + f". {JSON_HINT}.",
        "",
    ]


# ---- shared pieces -------------------------------------------------------------------------------


def image_name(urn: str) -> str:
    """``.../ImageTag::dockerhub/teleport-distroless:18.6.6`` -> ``teleport-distroless``."""
    name = urn.rsplit("::", 1)[-1]
    return name.split("/", 1)[-1].rsplit(":", 1)[0]


def _perm_label(p: Mapping[str, Any]) -> str:
    if (p["kind"], p["value"]) == ("group", "all"):
        label = "**public**"
    else:
        label = f"{p['kind']}={code(p['value'])}"
    return f"revoke {label}" if p["action"] == "revoke" else label


def _perms(perms: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(_perm_label(p) for p in perms) or "private"


def grants(plan: Mapping[str, Any]) -> tuple[Counter_, Counter_]:
    """(grants, revocations): count per permission label over every AMI of the plan."""
    given: Counter_ = defaultdict(int)
    taken: Counter_ = defaultdict(int)
    for r in plan["releases"]:
        for a in r["amis"]:
            for p in a["launch_permissions"]:
                label = (
                    "public"
                    if (p["kind"], p["value"]) == ("group", "all")
                    else f"{p['kind']}={p['value']}"
                )
                (taken if p["action"] == "revoke" else given)[label] += 1
    return given, taken


def _grant_callouts(given: Counter_, taken: Counter_) -> list[str]:
    out = []
    if given.get("public"):
        out.append(
            f"> **Public:** {plural(given['public'], 'mirrored AMI')} "
            "shared with every AWS account (launch permission `group=all`)."
        )
    shared = sorted((k, n) for k, n in given.items() if k != "public")
    if shared:
        listed = ", ".join(f"{code(k)} ({n})" for k, n in shared)
        out.append(f"> **Shared with:** {listed}.")
    if taken:
        listed = ", ".join(
            f"{'public' if k == 'public' else code(k)} ({n})" for k, n in sorted(taken.items())
        )
        out.append(f"> **Revoked** (a yank): {listed}.")
    return [*out, ""] if out else []


def summary_line(plan: Mapping[str, Any]) -> str:
    s = plan["summary"]
    releases = [r["version"] for r in plan["releases"]]
    registries = sorted({t["registry"] for r in plan["releases"] for t in r["image_tags"]})
    regions = sorted({a["region"] for r in plan["releases"] for a in r["amis"]})
    head = f"**{plural(s['releases'], 'release')}**"
    if 0 < len(releases) <= 3:
        head += f" ({', '.join(releases)})"
    parts = [
        head,
        f"{plural(s['image_tags'], 'image tag')} on "
        f"{plural(len(registries), 'registry', 'registries')}",
        f"{plural(s['ami_copies'], 'AMI copy', 'AMI copies')} + "
        f"{plural(s['ami_transfers'], 'GovCloud transfer')} in {plural(len(regions), 'region')}",
        f"{plural(s['launch_permissions'], 'launch permission')}",
        f"{plural(s['revocations'], 'revocation')}",
        f"{plural(s['floating_tags'], 'floating tag')}",
        f"{plural(s['repositories'], 'repository', 'repositories')}",
    ]
    known = {
        "releases",
        "image_tags",
        "ami_copies",
        "ami_transfers",
        "launch_permissions",
        "revocations",
        "floating_tags",
        "repositories",
        "resources",
    }
    # Counts another artifact kind adds to the summary, named by their key.
    parts += [f"{n} {k.replace('_', ' ')}" for k, n in s.items() if k not in known]
    parts.append(f"{plural(s['resources'], 'resource')} in the stack")
    return " · ".join(parts)


def _release_status(r: Mapping[str, Any]) -> str:
    return f"**YANKED**: {cell(r['reason'] or 'no reason given')}" if r["yanked"] else "publish"


def _release_rows(plan: Mapping[str, Any]) -> list[list[str]]:
    floating: dict[str, int] = defaultdict(int)
    for ft in plan["floating_tags"]:
        floating[ft["release"]] += 1
    rows = []
    for r in plan["releases"]:
        perms = [p for a in r["amis"] for p in a["launch_permissions"]]
        given = [p for p in perms if p["action"] == "grant"]
        public = sum(1 for p in given if (p["kind"], p["value"]) == ("group", "all"))
        grant_text = f"{len(given)}" + (f" ({public} public)" if public else "")
        if len(given) < len(perms):
            grant_text += f", {len(perms) - len(given)} revoked"
        extra = sum(len(v) for k, v in r.items() if k not in RELEASE_KEYS and _is_rows(v))
        rows.append(
            [
                r["version"],
                cell(r["channel"] or "-"),
                _release_status(r),
                str(len(r["image_tags"])),
                str(len(r["amis"])),
                grant_text,
                str(floating.get(r["version"], 0)),
                *([str(extra)] if extra else []),
            ]
        )
    return rows


def _is_rows(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


# ---- a release, per destination ------------------------------------------------------------------


def _images(r: Mapping[str, Any], fold: Fold, newest: bool) -> list[str]:
    tags = r["image_tags"]
    if not tags:
        return []
    by_image: dict[str, dict[str, Any]] = {}
    by_registry: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in tags:
        by_image.setdefault(image_name(t["urn"]), t)
        by_registry[t["registry"]].append(t)
    action = "unpublish (tags deleted)" if all(t["action"] == "unpublish" for t in tags) else None
    head = (
        f"**Images**: {plural(len(by_image), 'image')} to "
        f"{plural(len(by_registry), 'registry', 'registries')}, copied by digest "
        "(every platform, attestation and signature; same bytes everywhere)"
    )
    if action:
        head = f"**Images**: {plural(len(tags), 'tag')} to **{action}**"
    out = [head, ""]
    if fold.older_images and not newest:
        return [*out, f"{plural(len(by_image), 'image')} folded.", ""]
    rows = [[name, code(t["source"])] for name, t in sorted(by_image.items())]
    out += maybe_fold(
        f"{plural(len(rows), 'image')} and their sources",
        table(["image", "source (repository@digest)"], rows),
        len(rows),
    )
    for registry, rtags in sorted(by_registry.items()):
        prefix = _common_prefix([t["repository"] for t in rtags])
        versions = sorted({t["tag"] for t in rtags})
        verbs = sorted({t["action"] for t in rtags})
        summary = (
            f"{registry} ({code(prefix + '*')}): {plural(len(rtags), 'tag')} "
            f"{', '.join(code(v) for v in versions)}, {'/'.join(verbs)}"
        )
        if fold.tag_tables:
            out += [f"- {summary}"]
            continue
        body = table(
            ["repository:tag", "digest", "action"],
            (
                [code(f"{t['repository']}:{t['tag']}"), code(t["digest"]), t["action"]]
                for t in rtags
            ),
        )
        out += details(summary, body)
    if fold.tag_tables:
        out.append("")
    return out


def _common_prefix(repos: Sequence[str]) -> str:
    if not repos:
        return ""
    parts = [r.split("/") for r in repos]
    common: list[str] = []
    for segs in zip(*parts, strict=False):
        if len(set(segs)) != 1:
            break
        common.append(segs[0])
    common = common[: min(len(p) for p in parts) - 1] if len(repos) > 1 else parts[0][:-1]
    return "/".join(common) + "/" if common else ""


def _amis(r: Mapping[str, Any]) -> list[str]:
    amis = r["amis"]
    if not amis:
        return []
    # Regions whose copies differ in their grants get rows of their own: what is public shows.
    groups: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for one in amis:
        perms = _perms(one["launch_permissions"])
        group_key = (one["key"], one["partition"], one["source"], perms)
        g = groups.setdefault(group_key, {"ami": one, "regions": [], "methods": set()})
        g["regions"].append(one["region"])
        g["methods"].add(one["method"])
    rows: list[list[str]] = []
    regions_by_partition: dict[str, set[str]] = defaultdict(set)
    for (key, partition, source, perms), g in sorted(groups.items()):
        a = g["ami"]
        regions_by_partition[partition].update(g["regions"])
        src_id, _, src_region = source.partition("@")
        if src_region:
            src = f"{code(src_id)} in {src_region}, account {code(a.get('source_account') or '?')}"
        else:
            src = cell(source)
        rows.append(
            [
                key,
                partition,
                src,
                _regions(g["regions"]),
                " + ".join(sorted(g["methods"])),
                perms,
                code(a["name"]),
            ]
        )
    out = [
        f"**AMIs**: {plural(len({a['key'] for a in amis}), 'edition')}, "
        f"{plural(len(amis), 'copy', 'copies')} in "
        f"{plural(len(regions_by_partition), 'partition')}",
        "",
    ]
    out += maybe_fold(
        f"{plural(len(rows), 'AMI group')}",
        table(
            ["AMI", "partition", "source", "regions", "made by", "launch permissions", "name"],
            rows,
        ),
        len(rows),
    )
    listed = [
        f"- {partition} ({len(regs)}): {', '.join(sorted(regs))}"
        for partition, regs in sorted(regions_by_partition.items())
    ]
    out += details("regions", listed)
    return out


def _regions(regions: Sequence[str]) -> str:
    ordered = sorted(regions)
    if len(ordered) > 3:
        return f"{len(ordered)} ({ordered[0]} … {ordered[-1]})"
    return ", ".join(ordered)


def _generic_rows(title: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """A list of dicts another artifact kind adds, as a table of its scalar fields."""
    columns: list[str] = []
    for row in rows:
        for k, v in row.items():
            if k != "urn" and k not in columns and not isinstance(v, dict | list):
                columns.append(k)
    body = table(
        columns,
        (
            [code(row[c]) if c in row and row[c] is not None else "" for c in columns]
            for row in rows
        ),
    )
    return [f"**{title}**", "", *maybe_fold(plural(len(rows), "entry", "entries"), body, len(rows))]


def release_section(
    r: Mapping[str, Any],
    fold: Fold,
    *,
    newest: bool,
    others: Mapping[str, list[Mapping[str, Any]]],
) -> list[str]:
    head = f"### {r['version']}"
    if r["channel"]:
        head += f" ({r['channel']})"
    if r["yanked"]:
        head += f" — **YANKED** ({cell(r['reason'] or 'no reason given')}): unpublished everywhere"
    out = [head, ""]
    out += _images(r, fold, newest)
    out += _amis(r)
    for key, value in r.items():
        if key not in RELEASE_KEYS and _is_rows(value):
            out += _generic_rows(key.replace("_", " ").capitalize(), value)
    for kind, resources in sorted(others.items()):
        out += _kind_section(kind, resources)
    return out


# ---- resources of kinds this module does not know ------------------------------------------------


def _known_urns(plan: Mapping[str, Any]) -> set[str]:
    urns: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("urn"), str):
                urns.add(value["urn"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for key, value in plan.items():
        if key not in ("resources", "steps"):
            walk(value)
    return urns


def unknown_resources(plan: Mapping[str, Any]) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
    """release (or "") -> kind -> resources of a custom type no section shows."""
    resources = plan.get("resources") or []
    by_urn = {r["urn"]: r for r in resources}
    shown = _known_urns(plan)
    out: dict[str, dict[str, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in resources:
        if not r.get("custom") or r["type"] in KNOWN_TYPES or r["urn"] in shown:
            continue
        release = ""
        cur = by_urn.get(r.get("parent") or "")
        while cur is not None:
            if cur["type"] == T_RELEASE:
                release = cur["urn"].rsplit("::", 1)[-1]
                break
            cur = by_urn.get(cur.get("parent") or "")
        out[release][r["type"].rsplit(":", 1)[-1]].append(r)
    return out


def _kind_section(kind: str, resources: Sequence[Mapping[str, Any]]) -> list[str]:
    inputs = [r.get("inputs") or {} for r in resources]
    scalar = [
        k
        for k in dict.fromkeys(k for i in inputs for k in i)
        if not any(k.startswith(n) for n in NOISY_INPUTS)
        and all(not isinstance(i.get(k), dict | list) for i in inputs)
    ]
    preferred = [k for k in PREFERRED_INPUTS if k in scalar]
    columns = preferred or scalar[:4]
    rows = [
        [code(r["urn"].rsplit("::", 1)[-1]), *(code(i.get(c, "")) for c in columns)]
        for r, i in zip(resources, inputs, strict=True)
    ]
    body = table(["name", *columns], rows)
    return [
        f"**{kind}**: {plural(len(resources), 'resource')}",
        "",
        *maybe_fold(plural(len(rows), kind), body, len(rows)),
    ]


# ---- floating tags -------------------------------------------------------------------------------

NEW = object()  # a floating tag that did not exist before


def floating_groups(
    tags: Sequence[Mapping[str, Any]], *, moved_only: bool = False
) -> list[tuple[str, list[str], int, int, list[str]]]:
    """(sentence, refs) per group of floating tags that point the same way on the same images."""
    per_tag: dict[tuple[str, object, str, str], set[tuple[str, str, str]]] = defaultdict(set)
    for ft in tags:
        # No "previous" key: the plan does not know (the whole stack); None: a new tag.
        previous: object = ft.get("previous")
        if previous is None and "previous" in ft:
            previous = NEW
        if moved_only and previous == ft["release"]:
            continue
        key = (ft["release"], previous, ft["action"], ft["tag"])
        per_tag[key].add((ft["registry"], image_name(ft["urn"]), ft["repository"]))
    merged: dict[tuple[str, object, str, frozenset[tuple[str, str, str]]], list[str]] = defaultdict(
        list
    )
    for (release, previous, action, tag), places in per_tag.items():
        merged[(release, previous, action, frozenset(places))].append(tag)
    out = []
    for (release, previous, action, where), tag_list in merged.items():
        registries = sorted({w[0] for w in where})
        images = sorted({w[1] for w in where})
        full = len(where) == len(registries) * len(images)
        names = ", ".join(code(t) for t in sorted(tag_list, key=_tag_order))
        if action == "unpublish":
            sentence = f"{names}: **deleted** (every candidate release is yanked; last {release})"
        else:
            sentence = f"{names} -> {release}"
            if previous is NEW:
                sentence += " (new)"
            elif previous is not None:
                sentence += f" (was {previous})"
        if full:
            sentence += (
                f" on {plural(len(registries), 'registry', 'registries')} x "
                f"{plural(len(images), 'image')}"
            )
        else:
            sentence += f" on {plural(len(where), 'repository', 'repositories')}"
        refs = sorted(f"{w[2]}:{t}" for w in where for t in tag_list)
        order = (_release_order(release), min(_tag_order(t) for t in tag_list))
        out.append(
            (order, (sentence, refs, len(registries), len(images), sorted(w[2] for w in where)))
        )
    out.sort(key=lambda g: g[0])
    return [g[1] for g in out]


def _release_order(version: str) -> list[int | str]:
    return [int(p) if p.isdigit() else p for p in version.replace("-", ".").split(".")]


def _tag_order(tag: str) -> tuple[int, list[int] | str]:
    try:
        return (0, [int(p) for p in tag.split(".")])
    except ValueError:
        return (1, tag)


def floating_section(
    tags: Sequence[Mapping[str, Any]], *, title: str = "Floating tags", moved_only: bool = False
) -> list[str]:
    groups = floating_groups(tags, moved_only=moved_only)
    if not groups:
        return []
    count = sum(len(g[1]) for g in groups)
    out = [f"### {title} ({count})", ""]
    for sentence, _refs, _regs, _imgs, repos in groups:
        out.append(f"- {sentence}")
        if len(repos) <= 3:
            out[-1] += ": " + ", ".join(code(r) for r in repos)
    out.append("")
    return out


# ---- repositories and providers ------------------------------------------------------------------


def repositories_section(plan: Mapping[str, Any], fold: Fold) -> list[str]:
    repos = plan["repositories"]
    if not repos:
        return []
    full: dict[tuple[str, str], str] = {}
    for r in plan["releases"]:
        for t in r["image_tags"]:
            full[(t["registry"], image_name(t["urn"]))] = t["repository"]
    for ft in plan["floating_tags"]:
        full[(ft["registry"], image_name(ft["urn"]))] = ft["repository"]
    by_registry: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for rp in repos:
        by_registry[rp["registry"]].append(rp)
    out = [f"### Repositories ({len(repos)})", ""]
    for registry, rows in sorted(by_registry.items()):
        kinds = "/".join(sorted({str(r["kind"]) for r in rows}))
        named = registry if kinds == registry else f"{registry} ({kinds})"
        line = f"{named}: {plural(len(rows), 'repository', 'repositories')}"
        if fold.repository_lists:
            out.append(f"- {line}")
            continue
        body = table(
            ["repository", "description (the mirror label)"],
            (
                [
                    code(full.get((registry, str(r["repository"])), r["repository"])),
                    cell(r["description"] or ""),
                ]
                for r in rows
            ),
        )
        out += details(line, body)
    if fold.repository_lists:
        out.append("")
    return out


def providers_line(plan: Mapping[str, Any]) -> list[str]:
    providers = plan.get("providers") or []
    if not providers:
        return []
    parts: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for p in providers:
        parts[p["partition"]].append(p)
    texts = []
    for partition, ps in sorted(parts.items()):
        profiles = sorted({str(p["profile"]) for p in ps if p["profile"]})
        text = f"{partition}: {plural(len(ps), 'provider')}"
        if profiles:
            text += f" (profile {', '.join(code(p) for p in profiles)})"
        endpoints = sorted({str(p["endpoint"]) for p in ps if p["endpoint"]})
        if endpoints:
            text += f", **endpoint override** {', '.join(code(e) for e in endpoints)}"
        texts.append(text)
    return [f"AWS providers: {'; '.join(texts)}.", ""]


# ---- the desired-state plan ----------------------------------------------------------------------


def render(plan: Mapping[str, Any], budget: int = BUDGET) -> str:
    """``mirrors plan --format markdown``."""
    versions = [r["version"] for r in plan["releases"]]
    return fit(lambda fold: _render(plan, fold), versions, budget)


def _render(plan: Mapping[str, Any], fold: Fold) -> str:
    s = plan["summary"]
    given, taken = grants(plan)
    others = unknown_resources(plan)
    lines = [f"## Mirror plan: stack `{plan['stack']}`", "", summary_line(plan), ""]
    lines += _grant_callouts(given, taken)
    generic = [(k, v) for k, v in plan.items() if k not in PLAN_KEYS and _is_rows(v)]
    fold = replace(fold, other_rows=fold.tag_tables and bool(generic))
    lines += _fold_banner(fold)
    if plan["releases"]:
        extra_col = any(
            _is_rows(v) for r in plan["releases"] for k, v in r.items() if k not in RELEASE_KEYS
        )
        head = ["release", "channel", "status", "image tags", "AMIs", "launch permissions"]
        head += ["floating tags here", *(["other artifacts"] if extra_col else [])]
        lines += table(head, _release_rows(plan), right=(3, 4, 6, 7))
        lines.append("")
    newest = versions_newest(plan)
    for r in plan["releases"]:
        if r["version"] in fold.dropped_releases:
            continue
        lines += release_section(
            r, fold, newest=r["version"] == newest, others=others.get(r["version"], {})
        )
    lines += floating_section(plan["floating_tags"])
    lines += signature_policies_section(plan)
    lines += repositories_section(plan, fold)
    for key, value in generic:
        title = key.replace("_", " ").capitalize()
        if fold.other_rows:
            lines += [f"**{title}**: {plural(len(value), 'entry', 'entries')} (folded).", ""]
        else:
            lines += _generic_rows(title, value)
    for kind, resources in sorted(others.get("", {}).items()):
        lines += _kind_section(kind, resources)
    lines += providers_line(plan)
    del s
    return "\n".join(lines).rstrip("\n") + "\n"


def signature_policies_section(plan: Mapping[str, Any]) -> list[str]:
    """Never folded: what each image must be signed by before it is published (issue 12)."""
    rows = plan.get("signature_policies") or []
    if not rows:
        return []
    required = sum(1 for r in rows if r["required"])
    head = f"**Signature policies**: {plural(len(rows), 'image')}, {required} required"
    body = [[code(r["source"]), "yes" if r["required"] else "no", cell(r["policy"])] for r in rows]
    return [head, "", *table(["source", "required", "policy"], body), ""]


def versions_newest(plan: Mapping[str, Any]) -> str | None:
    live = [str(r["version"]) for r in plan["releases"] if not r["yanked"]]
    every = live or [str(r["version"]) for r in plan["releases"]]
    return every[-1] if every else None


# ---- the step plan (--against) -------------------------------------------------------------------

STEP_OPS = ("create", "update", "replace", "forget", "delete")


def render_steps(
    plan: Mapping[str, Any],
    change_groups: Sequence[Mapping[str, Any]],
    budget: int = BUDGET,
) -> str:
    """``mirrors plan --against BASE --format markdown``; ``change_groups``: plan.change_groups."""
    touched = {g["release"] for g in plan["steps"]["groups"]}
    versions = [r["version"] for r in plan["releases"] if r["version"] in touched]
    return fit(lambda fold: _render_steps(plan, change_groups, fold, touched), versions, budget)


def _render_steps(
    plan: Mapping[str, Any],
    change_groups: Sequence[Mapping[str, Any]],
    fold: Fold,
    touched: set[str],
) -> str:
    steps = plan["steps"]
    s = steps["summary"]
    against = steps["against"]
    counts = " · ".join(f"{s[op]} {op}" for op in STEP_OPS)
    releases = sorted(
        {g["release"] for g in steps["groups"]} & {r["version"] for r in plan["releases"]},
        key=lambda v: [r["version"] for r in plan["releases"]].index(v),
    )
    lines = [
        f"## Update of stack `{plan['stack']}` from `{against['file']}`",
        "",
        f"{counts} · {s['same']} unchanged"
        + (f" · {s['read']} read (archived AMI copies)" if s.get("read") else ""),
        "",
        f"> {steps['estimate']}",
        "",
    ]
    if releases:
        lines += [f"**Releases this update touches:** {', '.join(releases)}", ""]
    lines += _step_callouts(steps["changes"])
    lines += _fold_banner(fold)
    lines += table(
        ["release", "destination", *STEP_OPS],
        (
            [g["release"], g["destination"], *(str(g[op]) for op in STEP_OPS)]
            for g in steps["groups"]
        ),
        right=range(2, 2 + len(STEP_OPS)),
    )
    lines.append("")
    lines += floating_section(
        plan["floating_tags"], title="Floating tags that move", moved_only=True
    )
    if steps["changes"] and not fold.change_rows:
        rows = [
            [
                e["release"],
                e["destination"],
                e["op"],
                e["kind"],
                str(e["count"]),
                cell(e["what"]),
                code(e["example"]),
            ]
            for e in change_groups
        ]
        body = table(
            ["release", "destination", "step", "resources", "count", "what", "e.g."],
            rows,
            right=(4,),
        )
        lines += ["### What changes", ""]
        lines += maybe_fold(plural(len(rows), "kind of change", "kinds of change"), body, len(rows))
    others = unknown_resources(plan)
    newest = versions_newest(plan)
    for r in plan["releases"]:
        if r["version"] not in touched or r["version"] in fold.dropped_releases:
            continue
        lines += release_section(
            r, fold, newest=r["version"] == newest, others=others.get(r["version"], {})
        )
    return "\n".join(lines).rstrip("\n") + "\n"


def _step_callouts(changes: Sequence[Mapping[str, Any]]) -> list[str]:
    """What a reviewer must not miss: public grants made or revoked, deletions, replacements."""
    out = []
    public = [
        c for c in changes if c["op"] in ("create", "replace") and c["name"].endswith("/group=all")
    ]
    if public:
        out.append(
            f"> **Public:** {plural(len(public), 'AMI launch permission')} `group=all` "
            "created: those AMI copies become public."
        )
    shared = [
        c
        for c in changes
        if c["op"] in ("create", "replace")
        and c["kind"] == "AmiLaunchPermission"
        and not c["name"].endswith("/group=all")
    ]
    if shared:
        out.append(
            f"> **Shared:** {plural(len(shared), 'launch permission')} "
            "for accounts or organisations created."
        )
    revoked = [
        c for c in changes if c["op"] == "create" and c["kind"] == "LaunchPermissionRevocation"
    ]
    if revoked:
        out.append(f"> **Revoked:** {plural(len(revoked), 'launch permission')} revoked (a yank).")
    deleted = [c for c in changes if c["op"] == "delete"]
    if deleted:
        kinds = sorted({c["kind"] for c in deleted})
        out.append(f"> **Deleted:** {plural(len(deleted), 'resource')} ({', '.join(kinds)}).")
    unpublished = [
        c for c in changes if c["kind"] == "ImageTag" and "published" in c.get("keys", [])
    ]
    if unpublished:
        out.append(
            f"> **Unpublished:** {plural(len(unpublished), 'image tag')} change `published`."
        )
    replaced = [c for c in changes if c["op"] == "replace"]
    if replaced:
        out.append(f"> **Replaced:** {plural(len(replaced), 'resource')}; see What changes.")
    return [*out, ""] if out else []


# ---- annotations the CLI adds from the project (additive fields of the plan JSON) ----------------


def _floating_pointers(
    project: Project, releases: Iterable[Release]
) -> dict[tuple[str, str, str], tuple[str, bool]]:
    """(registry, repository, tag) -> (release, published) for these releases."""
    spec = project.spec
    out: dict[tuple[str, str, str], tuple[str, bool]] = {}
    for ft in compute_floating(spec.images.values(), releases):
        image = spec.images[ft.image]
        for name in image.registries:
            repository = spec.registries[name].repository(image.repository)
            out[(name, repository, ft.tag)] = (ft.release, ft.published)
    return out


def annotate_sources(plan: dict[str, Any], project: Project) -> None:
    """Each AMI copied from the first-party account gets ``source_account``."""
    if project.spec.amis is None:
        return
    account = project.spec.amis.source_account
    first_party = {a.id for r in project.releases for a in r.amis}
    for r in plan["releases"]:
        for a in r["amis"]:
            if a["source"].partition("@")[0] in first_party:
                a["source_account"] = account


def annotate_release(
    plan: dict[str, Any], whole: Mapping[str, Any], project: Project, version: str
) -> None:
    """``--release V``: each floating tag gets ``previous``, where it pointed without this change
    (V not there when live; V not yanked when yanked; None: the tag is new), and the tags a yank
    moves away from V are added."""
    release = project.release(version)
    if release is None:
        return
    if release.yanked:
        before_releases = [
            replace(r, yanked=False) if r is release else r for r in project.releases
        ]
    else:
        before_releases = [r for r in project.releases if r is not release]
    before = _floating_pointers(project, before_releases)
    mine = {(f["registry"], f["repository"], f["tag"]) for f in plan["floating_tags"]}
    moved_away = [
        dict(f)
        for f in whole["floating_tags"]
        if (f["registry"], f["repository"], f["tag"]) not in mine
        and before.get((f["registry"], f["repository"], f["tag"]), ("", False))[0] == version
        and f["release"] != version
    ]
    plan["floating_tags"] = sorted(
        [*plan["floating_tags"], *moved_away],
        key=lambda x: (x["registry"], x["repository"], x["tag"]),
    )
    for f in plan["floating_tags"]:
        prior = before.get((f["registry"], f["repository"], f["tag"]))
        f["previous"] = prior[0] if prior is not None and prior[1] else None
    plan["summary"]["floating_tags"] = len(plan["floating_tags"])


def annotate_against(plan: dict[str, Any], base: Iterable[Any]) -> None:
    """``--against BASE``: each floating tag gets ``previous``, the release it pointed at in BASE
    (None: not in BASE)."""
    before: dict[str, str] = {}
    for s in base:
        inputs = s.inputs
        if s.type == T_IMAGE_TAG and inputs.get("floating"):
            before[s.urn] = str(inputs.get("release")) if inputs.get("published", True) else ""
    for f in plan["floating_tags"]:
        f["previous"] = before.get(f["urn"]) or None
