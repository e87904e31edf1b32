"""The objects of a provider mirror, computed from the pinned release data only.

Two layouts, each a set of S3 keys under the destination's prefix (the prefix is the root of the
site that serves the bucket, e.g. a CloudFront origin path):

static registry (Provider Registry Protocol)::

    .well-known/terraform.json                          {"providers.v1": "/v1/providers/"}
    v1/providers/NS/TYPE/versions                       every published version
    v1/providers/NS/TYPE/VERSION/download/OS/ARCH       one per package: filename, shasum, keys
    v1/providers/NS/TYPE/VERSION/FILE(.sums, .sums.sig) the vendor's zip, sums and signature

provider network mirror (Provider Network Mirror Protocol)::

    HOSTNAME/NS/TYPE/index.json                         every published version
    HOSTNAME/NS/TYPE/VERSION.json                       archives with h1: and zh: hashes
    HOSTNAME/NS/TYPE/FILE(.sums, .sums.sig)

Index documents have no file extension in the registry layout (as Teleport's), so every
document carries ``Content-Type: application/json`` explicitly; Terraform's network mirror
client refuses any other content type (internal/getproviders/http_mirror_source.go). The URLs
inside documents are relative (Terraform resolves them against the document's URL), so a
mirror works wherever the prefix is served. JSON is rendered with sorted keys and a final newline:
the same release data always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import semver

from artifact_mirrors.spec.model import (
    ProviderPackage,
    ReleaseProvider,
    TerraformDestination,
    TerraformProvider,
)
from artifact_mirrors.terraform.hashes import zh

JSON = "application/json"
CONTENT_TYPES = {
    "zip": "application/zip",
    "sums": "text/plain; charset=utf-8",
    "sig": "application/pgp-signature",
}
PROVIDERS_V1 = "/v1/providers/"


@dataclass(frozen=True)
class Document:
    key: str
    content: str
    content_type: str = JSON


@dataclass(frozen=True)
class FileObject:
    """A file copied byte for byte from the source: zip, sums or signature."""

    key: str
    kind: str  # zip | sums | sig
    platform: str
    source_url: str
    sha256: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.kind]


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _key(prefix: str, *parts: str) -> str:
    return "/".join(p for p in (prefix, *parts) if p)


def _basename(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


def _dir(dest: TerraformDestination, provider: TerraformProvider) -> str:
    if dest.kind == "registry":
        return _key(dest.prefix, PROVIDERS_V1.strip("/"), provider.namespace, provider.type)
    return _key(dest.prefix, dest.hostname, provider.namespace, provider.type)


def _files_dir(dest: TerraformDestination, provider: TerraformProvider, version: str) -> str:
    base = _dir(dest, provider)
    return _key(base, version) if dest.kind == "registry" else base


def files(
    dest: TerraformDestination, provider: TerraformProvider, rp: ReleaseProvider
) -> list[FileObject]:
    """The zip, sums and signature of every platform, where the documents point at them."""
    where = _files_dir(dest, provider, rp.version)
    out: list[FileObject] = []
    for platform in sorted(rp.packages):
        p = rp.packages[platform]
        out += [
            FileObject(_key(where, p.filename), "zip", platform, p.url, p.sha256),
            FileObject(
                _key(where, _basename(p.sums_url)), "sums", platform, p.sums_url, p.sums_sha256
            ),
            FileObject(
                _key(where, _basename(p.sums_signature_url)),
                "sig",
                platform,
                p.sums_signature_url,
                p.sums_signature_sha256,
            ),
        ]
    # Sums files may be shared by platforms (one SHA256SUMS per release): one object per key.
    return list({f.key: f for f in out}.values())


def _download_document(rp: ReleaseProvider, p: ProviderPackage) -> dict[str, Any]:
    os_, arch = p.platform.split("/")
    # From .../VERSION/download/OS/ARCH, "../../X" is .../VERSION/X (RFC 3986 section 5.2).
    return {
        "protocols": list(rp.protocols),
        "os": os_,
        "arch": arch,
        "filename": p.filename,
        "download_url": f"../../{p.filename}",
        "shasums_url": f"../../{_basename(p.sums_url)}",
        "shasums_signature_url": f"../../{_basename(p.sums_signature_url)}",
        "shasum": p.sha256,
        "signing_keys": {
            "gpg_public_keys": [
                {
                    "key_id": rp.key_id,
                    "ascii_armor": rp.ascii_armor,
                    "trust_signature": "",
                    "source": "",
                    "source_url": None,
                }
            ]
        },
    }


def version_documents(
    dest: TerraformDestination, provider: TerraformProvider, rp: ReleaseProvider
) -> list[Document]:
    """The documents of one version: download documents, or the network mirror's VERSION.json."""
    base = _dir(dest, provider)
    if dest.kind == "registry":
        return [
            Document(
                _key(base, rp.version, "download", *platform.split("/")),
                render(_download_document(rp, rp.packages[platform])),
            )
            for platform in sorted(rp.packages)
        ]
    archives = {
        platform.replace("/", "_"): {
            "url": p.filename,
            "hashes": [p.h1, zh(p.sha256)],
        }
        for platform, p in sorted(rp.packages.items())
    }
    return [Document(_key(base, f"{rp.version}.json"), render({"archives": archives}))]


def _by_version(rps: Iterable[ReleaseProvider]) -> list[ReleaseProvider]:
    return sorted(rps, key=lambda rp: semver.Version.parse(rp.version))


def index_document(
    dest: TerraformDestination, provider: TerraformProvider, published: Iterable[ReleaseProvider]
) -> Document:
    """``versions`` (registry) or ``index.json`` (network mirror): the published versions only,
    so a yanked version is gone from the list."""
    rps = _by_version(published)
    base = _dir(dest, provider)
    if dest.kind == "registry":
        versions = [
            {
                "version": rp.version,
                "protocols": list(rp.protocols),
                "platforms": [
                    {"os": p.split("/")[0], "arch": p.split("/")[1]} for p in sorted(rp.packages)
                ],
            }
            for rp in rps
        ]
        return Document(_key(base, "versions"), render({"versions": versions}))
    return Document(_key(base, "index.json"), render({"versions": {rp.version: {} for rp in rps}}))


def well_known(dest: TerraformDestination) -> Document | None:
    """The registry's discovery document (none for a network mirror: its URL is configured).

    One per site: providers sharing a registry site share it (:func:`well_known_owners`)."""
    if dest.kind != "registry":
        return None
    return Document(
        _key(dest.prefix, ".well-known", "terraform.json"), render({"providers.v1": PROVIDERS_V1})
    )


def well_known_owners(providers: Iterable[TerraformProvider]) -> frozenset[tuple[str, str]]:
    """(provider, destination) of the one registry destination per site that publishes the
    site's discovery document: the first in spec order."""
    owners: dict[tuple[str, str], tuple[str, str]] = {}
    for p in providers:
        for d in p.destinations:
            if d.kind == "registry":
                owners.setdefault(d.site, (p.name, d.name))
    return frozenset(owners.values())


def site_path(key: str, prefix: str) -> str:
    """The URL path of an object on its site (the prefix is the site root)."""
    path = key[len(prefix) :] if prefix and key.startswith(prefix + "/") else key
    return "/" + path.lstrip("/")


def invalidation_documents(docs: Iterable[Document], prefix: str) -> dict[str, str]:
    """Site path -> sha256 of each index document, what a CloudFront invalidation watches."""
    return {site_path(d.key, prefix): hashlib.sha256(d.content.encode()).hexdigest() for d in docs}
