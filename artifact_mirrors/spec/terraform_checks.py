"""Rules for ``terraform_providers`` in the spec and in release manifests (see spec/load.py).

Kept apart from load.py so that the Terraform section is one self-contained block: load.py calls
:func:`spec_providers` and :func:`release_providers` and nothing else.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from artifact_mirrors.regions import Partition
from artifact_mirrors.spec import model, schema
from artifact_mirrors.spec.errors import PathPart

if TYPE_CHECKING:
    from artifact_mirrors.spec.load import _Collector
    from artifact_mirrors.spec.yamlio import Document

RegionProblem = Callable[[str, Partition], "tuple[str, str] | None"]

# The platforms Terraform releases itself for and providers are built for
# (https://developer.hashicorp.com/terraform/internals/provider-registry-protocol#platforms):
# os and arch as Go names them.
KNOWN_OS = ("darwin", "freebsd", "linux", "openbsd", "solaris", "windows")
KNOWN_ARCH = ("386", "amd64", "arm", "arm64")
KNOWN_PLATFORMS = tuple(f"{o}/{a}" for o in KNOWN_OS for a in KNOWN_ARCH)


def platform_problem(platform: str) -> str | None:
    """A hint when ``platform`` is not an ``os/arch`` pair Terraform knows, else None."""
    if platform in KNOWN_PLATFORMS:
        return None
    close = difflib.get_close_matches(platform, KNOWN_PLATFORMS, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return (
        hint + f"write os/arch with os in {', '.join(KNOWN_OS)} and arch in {', '.join(KNOWN_ARCH)}"
    )


def _source_problem(source: str) -> str | None:
    parts = urlsplit(source)
    if parts.scheme != "https" or not parts.hostname:
        return (
            "write the registry's https:// base URL, e.g. https://terraform.releases.teleport.dev"
        )
    if parts.query or parts.fragment:
        return "no query or fragment: the base URL only"
    return None


def spec_providers(
    doc: Document,
    providers: list[schema.TerraformProviderIn],
    out: _Collector,
    region_problem: RegionProblem,
) -> dict[str, model.TerraformProvider]:
    result: dict[str, model.TerraformProvider] = {}
    # (bucket, prefix, kind, namespace, type, hostname) -> provider/destination
    places: dict[tuple[str, ...], str] = {}
    regions: dict[str, tuple[str, str]] = {}  # bucket -> (region, provider/destination)
    for i, p in enumerate(providers):
        base: tuple[PathPart, ...] = ("terraform_providers", i)
        if p.name in result:
            out.add(
                doc,
                (*base, "name"),
                "duplicate provider name",
                p.name,
                hint="give each provider a unique name",
            )
            continue
        if (sp := _source_problem(p.source)) is not None:
            out.add(doc, (*base, "source"), "not a registry base URL", p.source, hint=sp)
        if not p.tls.verify:
            out.add(
                doc,
                (*base, "tls", "verify"),
                "TLS verification cannot be turned off",
                False,
                hint="give the registry's CA certificate with tls.ca_file",
            )
        for k, platform in enumerate(p.platforms):
            if (pp := platform_problem(platform)) is not None:
                out.add(doc, (*base, "platforms", k), "unknown platform", platform, hint=pp)
        if len(set(p.platforms)) != len(p.platforms):
            out.add(
                doc,
                (*base, "platforms"),
                "platform listed twice",
                ", ".join(p.platforms),
                hint="list each platform once",
            )
        host = urlsplit(p.source).netloc
        destinations: list[model.TerraformDestination] = []
        names: set[str] = set()
        for j, d in enumerate(p.destinations):
            dpath: tuple[PathPart, ...] = (*base, "destinations", j)
            if d.name in names:
                out.add(
                    doc,
                    (*dpath, "name"),
                    "duplicate destination name",
                    d.name,
                    hint="give each destination of a provider a unique name",
                )
            names.add(d.name)
            # The mirrors are public S3 + CloudFront sites of the commercial partition.
            if (rp := region_problem(d.region, "aws")) is not None:
                hint = (
                    rp[1]
                    if rp[0] == "unknown region"
                    else "a provider mirror is an S3 site of the commercial partition: pick a "
                    "region of aws"
                )
                out.add(doc, (*dpath, "region"), f"bucket {rp[0]}", d.region, hint=hint)
            if d.hostname is not None and d.kind != "network-mirror":
                out.add(
                    doc,
                    (*dpath, "hostname"),
                    "hostname is only for kind network-mirror",
                    d.hostname,
                    hint="a registry mirror is its own host; remove hostname",
                )
            dest = model.TerraformDestination(
                name=d.name,
                kind=d.kind,
                bucket=d.bucket,
                prefix=d.prefix.strip("/"),
                region=d.region,
                profile=d.profile,
                hostname=d.hostname or host,
                cloudfront_distribution=d.cloudfront_distribution,
                delete_yanked_files=d.yank == "delete-files",
            )
            # Providers may share a site (each under its own NAMESPACE/TYPE); one provider
            # address twice in one layout of one site would be two owners of the same keys.
            address = (p.namespace, p.type, dest.hostname if dest.kind == "network-mirror" else "")
            key = (*dest.site, dest.kind, *address)
            where = "/".join(x for x in (f"s3://{dest.bucket}", dest.prefix) if x)
            if key in places:
                out.add(
                    doc,
                    (*dpath, "prefix"),
                    f"duplicate destination: {places[key]} already mirrors {p.namespace}/{p.type} "
                    "to this bucket and prefix in the same layout",
                    where,
                    hint="give each destination its own prefix",
                )
            places.setdefault(key, f"{p.name}/{d.name}")
            first = regions.setdefault(dest.bucket, (dest.region, f"{p.name}/{d.name}"))
            if first[0] != dest.region and rp is None:
                out.add(
                    doc,
                    (*dpath, "region"),
                    f"bucket {dest.bucket} is in {first[0]} for {first[1]}",
                    dest.region,
                    hint="an S3 bucket lives in one region: give every destination in it that one",
                )
            destinations.append(dest)
        result[p.name] = model.TerraformProvider(
            name=p.name,
            namespace=p.namespace,
            type=p.type,
            source=p.source.rstrip("/"),
            ca_file=p.tls.ca_file,
            platforms=tuple(p.platforms),
            destinations=tuple(destinations),
        )
    return result


def release_providers(
    doc: Document,
    r: schema.ReleaseIn,
    spec: model.Spec | None,
    out: _Collector,
) -> dict[str, model.ReleaseProvider]:
    result: dict[str, model.ReleaseProvider] = {}
    for name, rp in r.terraform_providers.items():
        base: tuple[PathPart, ...] = ("terraform_providers", name)
        known = spec.terraform_providers.get(name) if spec else None
        if spec is not None and known is None:
            out.unknown_name(
                doc, base, "provider", name, "terraform_providers", spec.terraform_providers
            )
            continue
        if not rp.signing_key.ascii_armor.lstrip().startswith(
            "-----BEGIN PGP PUBLIC KEY BLOCK-----"
        ):
            out.add(
                doc,
                (*base, "signing_key", "ascii_armor"),
                "not an ASCII-armored OpenPGP public key",
                rp.signing_key.ascii_armor.strip().splitlines()[0]
                if rp.signing_key.ascii_armor.strip()
                else "",
                hint="paste the key as the source registry publishes it (mirrors release add "
                "writes it)",
            )
        packages: dict[str, model.ProviderPackage] = {}
        for platform, pkg in rp.platforms.items():
            ppath = (*base, "platforms", platform)
            if known is not None and platform not in known.platforms:
                out.add(
                    doc,
                    ppath,
                    f"platform not declared for provider {name}",
                    platform,
                    key=True,
                    hint=f"declared: {', '.join(known.platforms)}",
                )
                continue
            for field in ("url", "sums_url", "sums_signature_url"):
                value = getattr(pkg, field)
                if urlsplit(value).scheme != "https":
                    out.add(
                        doc,
                        (*ppath, field),
                        "not an https URL",
                        value,
                        hint="pin the URLs the source registry's download document names",
                    )
            packages[platform] = model.ProviderPackage(
                platform=platform,
                filename=pkg.filename,
                url=pkg.url,
                sha256=pkg.sha256,
                h1=pkg.h1,
                sums_url=pkg.sums_url,
                sums_sha256=pkg.sums_sha256,
                sums_signature_url=pkg.sums_signature_url,
                sums_signature_sha256=pkg.sums_signature_sha256,
            )
        if known is not None:
            missing = [p for p in known.platforms if p not in rp.platforms]
            if missing:
                out.add(
                    doc,
                    (*base, "platforms"),
                    f"missing {len(missing)} platform(s) the spec mirrors",
                    ", ".join(missing),
                    hint="pin every platform of the spec (mirrors release add does)",
                )
        result[name] = model.ReleaseProvider(
            name=name,
            version=rp.version,
            protocols=tuple(rp.protocols),
            key_id=rp.signing_key.id,
            ascii_armor=rp.signing_key.ascii_armor,
            packages=packages,
        )
    return result
