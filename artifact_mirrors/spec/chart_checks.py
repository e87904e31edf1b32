"""Rules for ``charts`` in the spec and in release manifests (see spec/load.py).

Like terraform_checks: load.py calls :func:`merge_defaults`, :func:`spec_charts` and
:func:`release_charts` and nothing else.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from artifact_mirrors.spec import model, schema
from artifact_mirrors.spec.errors import PathPart

if TYPE_CHECKING:
    from artifact_mirrors.spec.load import _Collector
    from artifact_mirrors.spec.yamlio import Document


def merge_defaults(root: CommentedMap) -> None:
    """``defaults.chart.registries`` fills the charts that leave ``registries`` out (the line
    stays the defaults block's, so an error in it points there)."""
    defaults = root.get("defaults")
    chart_defaults = defaults.get("chart") if isinstance(defaults, CommentedMap) else None
    charts = root.get("charts")
    if not isinstance(chart_defaults, CommentedMap) or not isinstance(charts, CommentedSeq):
        return
    value = chart_defaults.get("registries")
    for entry in charts if value is not None else ():
        if isinstance(entry, CommentedMap) and "registries" not in entry:
            entry["registries"] = value
            entry.lc.data["registries"] = chart_defaults.lc.data.get("registries")
    # defaults.chart.keyring: every HTTP source without its own (an OCI source has no .prov
    # to check).
    keyring = chart_defaults.get("keyring")
    for entry in charts if keyring is not None else ():
        source = entry.get("source") if isinstance(entry, CommentedMap) else None
        if isinstance(source, CommentedMap) and "url" in source and "keyring" not in source:
            source["keyring"] = keyring
            source.lc.data["keyring"] = chart_defaults.lc.data.get("keyring")


KEYRING_HINT = (
    "write the path (relative to the spec) of the OpenPGP keyring that signs the chart's .prov"
    " files, as `gpg --export KEY` (or --armor) writes it"
)


def _keyring(doc: Document, path: tuple[PathPart, ...], name: str, out: _Collector) -> bytes | None:
    """The keyring file's keys (binary), read now: a bad file fails `mirrors validate`."""
    from artifact_mirrors.gpg import SignatureError, keyring_bytes

    try:
        data = (doc.file.parent / name).read_bytes()
    except FileNotFoundError:
        out.add(doc, path, "keyring file not found", name, hint=KEYRING_HINT)
        return None
    except OSError as exc:
        out.add(doc, path, f"cannot read the keyring ({exc.strerror})", name, hint=KEYRING_HINT)
        return None
    try:
        keys = keyring_bytes(data)
    except SignatureError as exc:
        out.add(doc, path, f"not an OpenPGP keyring ({exc})", name, hint=KEYRING_HINT)
        return None
    if not keys:
        out.add(doc, path, "the keyring file is empty", name, hint=KEYRING_HINT)
        return None
    return keys


def _url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "write the chart repository's base URL, e.g. https://charts.releases.teleport.dev"
    if parts.query or parts.fragment:
        return "no query or fragment: the base URL only (index.yaml is read below it)"
    return None


def spec_charts(
    doc: Document,
    s: schema.DestinationsIn,
    registries: dict[str, model.Registry],
    image_repos: set[tuple[str, str]],
    out: _Collector,
) -> dict[str, model.Chart]:
    result: dict[str, model.Chart] = {}
    template = s.defaults.chart.repository or "{name}"
    seen: dict[tuple[str, str], int] = {}
    for i, c in enumerate(s.charts):
        base: tuple[PathPart, ...] = ("charts", i)
        if c.name in result:
            out.add(
                doc,
                (*base, "name"),
                "duplicate chart name",
                c.name,
                hint="each chart is listed once; add registries to its list instead",
            )
            continue
        src = c.source
        if (src.url is None) == (src.oci is None):
            out.add(
                doc,
                (*base, "source"),
                "give exactly one of source.url or source.oci",
                ", ".join(k for k in ("url", "oci") if getattr(src, k)) or "neither",
                hint="url: an HTTP chart repository; oci: a repository holding the chart",
            )
        if src.url is not None and (problem := _url_problem(src.url)):
            out.add(
                doc, (*base, "source", "url"), "not a chart repository URL", src.url, hint=problem
            )
        if src.oci is not None and src.chart is not None:
            out.add(
                doc,
                (*base, "source", "chart"),
                "an OCI source names its chart in the path",
                src.chart,
                hint="drop source.chart; write source.oci: HOST/PATH/CHART",
            )
        keyring: bytes | None = None
        if src.keyring is not None and src.oci is not None:
            out.add(
                doc,
                (*base, "source", "keyring"),
                "an OCI source has no .prov file to check",
                src.keyring,
                hint="drop source.keyring: an OCI source is copied by digest as it is",
            )
        elif src.keyring is not None:
            keyring = _keyring(doc, (*base, "source", "keyring"), src.keyring, out)
        chart_name = src.chart or (src.oci.rstrip("/").rsplit("/", 1)[-1] if src.oci else c.name)
        repository = c.repository or template.replace("{name}", c.name)
        if not schema.REPO_RE.match(repository):
            out.add(
                doc,
                (*base, "repository"),
                "not a valid repository path",
                repository,
                hint="lowercase path segments, e.g. charts/teleport-cluster",
            )
        if "{version}" not in c.version:
            out.add(
                doc,
                (*base, "version"),
                "the chart version does not follow the release",
                c.version,
                hint="write a template with {version}, e.g. '{version}'",
            )
        for j, reg in enumerate(c.registries):
            path = (*base, "registries", j)
            if reg not in registries:
                close = difflib.get_close_matches(reg, list(registries), n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                out.add(
                    doc,
                    path,
                    "unknown registry",
                    reg,
                    hint=hint + f"registries defined: {', '.join(registries) or 'none'}",
                )
                continue
            key = (reg, repository)
            if key in image_repos:
                out.add(
                    doc,
                    path,
                    f"an image already mirrors to {registries[reg].repository(repository)}",
                    reg,
                    hint="set a different 'repository:' for the chart (or "
                    "defaults.chart.repository: charts/{name})",
                )
            elif key in seen:
                out.add(
                    doc,
                    path,
                    f"duplicate destination: charts[{seen[key]}] already mirrors "
                    f"to {registries[reg].repository(repository)}",
                    reg,
                    hint="set a different 'repository:' for one of them",
                )
            seen.setdefault(key, i)
        result[c.name] = model.Chart(
            name=c.name,
            chart=chart_name,
            url=src.url.rstrip("/") if src.url else None,
            oci=src.oci,
            ca_file=src.tls.ca_file,
            repository=repository,
            registries=tuple(dict.fromkeys(c.registries)),
            version=c.version,
            keyring=src.keyring if keyring is not None else None,
            keyring_data=keyring,
        )
    return result


def release_charts(
    doc: Document, r: schema.ReleaseIn, spec: model.Spec | None, out: _Collector
) -> dict[str, model.ReleaseChart]:
    result: dict[str, model.ReleaseChart] = {}
    for name, rc in r.charts.items():
        base: tuple[PathPart, ...] = ("charts", name)
        known = spec.charts.get(name) if spec else None
        if spec is not None and known is None:
            out.unknown_name(doc, base, "chart", name, "charts", spec.charts)
            continue
        if known is not None and known.url is not None:
            for field in ("url", "sha256", "created"):
                if getattr(rc, field) is None:
                    out.add(
                        doc,
                        (*base, field),
                        "required key is missing",
                        has_value=False,
                        hint="an HTTP chart pins the .tgz; mirrors release add writes it",
                    )
            if (rc.prov_url is None) != (rc.prov_sha256 is None):
                out.add(
                    doc,
                    base,
                    "prov_url and prov_sha256 go together",
                    rc.prov_url or rc.prov_sha256,
                    hint="pin both or neither",
                )
        result[name] = model.ReleaseChart(
            name=name,
            version=rc.version,
            digest=rc.digest,
            url=rc.url,
            sha256=rc.sha256,
            prov_url=rc.prov_url,
            prov_sha256=rc.prov_sha256,
            created=rc.created,
        )
    return result
