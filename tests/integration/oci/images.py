"""Synthetic images pushed with plain HTTP calls (no Docker): multi-arch indexes, Docker manifest
lists, buildx-style attestations, cosign-style signatures, artifacts, referrers."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm/v7")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


class Pusher:
    """Minimal push client for building fixtures (monolithic blob upload, manifest PUT)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: tuple[str, str] | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.http = httpx.Client(base_url=base_url, auth=auth, verify=verify, timeout=60)

    def close(self) -> None:
        self.http.close()

    def blob(self, repo: str, data: bytes, media_type: str, **extra: Any) -> dict[str, Any]:
        digest = sha256(data)
        if self.http.head(f"/v2/{repo}/blobs/{digest}").status_code != 200:
            start = self.http.post(f"/v2/{repo}/blobs/uploads/")
            assert start.status_code == 202, start.text
            url = httpx.URL(start.headers["Location"]).copy_merge_params({"digest": digest})
            put = self.http.put(
                str(url), content=data, headers={"Content-Type": "application/octet-stream"}
            )
            assert put.status_code == 201, put.text
        return {"mediaType": media_type, "digest": digest, "size": len(data), **extra}

    def manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> dict[str, Any]:
        resp = self.http.put(
            f"/v2/{repo}/manifests/{ref}", content=raw, headers={"Content-Type": media_type}
        )
        assert resp.status_code == 201, resp.text
        digest = sha256(raw)
        assert resp.headers["Docker-Content-Digest"] == digest
        return {"mediaType": media_type, "digest": digest, "size": len(raw)}

    def raw_manifest(self, repo: str, ref: str) -> tuple[bytes, str]:
        resp = self.http.get(
            f"/v2/{repo}/manifests/{ref}",
            headers={"Accept": ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])},
        )
        resp.raise_for_status()
        return resp.content, resp.headers["Content-Type"]

    def tag_digest(self, repo: str, tag: str) -> str | None:
        resp = self.http.head(
            f"/v2/{repo}/manifests/{tag}",
            headers={"Accept": ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])},
        )
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        return resp.headers["Docker-Content-Digest"]


def _platform(plat: str) -> dict[str, str]:
    parts = plat.split("/")
    out = {"os": parts[0], "architecture": parts[1]}
    if len(parts) > 2:
        out["variant"] = parts[2]
    return out


def push_image(
    p: Pusher,
    repo: str,
    plat: str,
    layers: list[bytes],
    *,
    docker: bool = False,
    ref: str | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One single-platform image; returns its descriptor (with platform)."""
    cfg = dumps(
        {
            **_platform(plat),
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256(x) for x in layers]},
        }
    )
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": p.blob(repo, cfg, DOCKER_CONFIG if docker else OCI_CONFIG),
        "layers": [p.blob(repo, x, DOCKER_LAYER if docker else OCI_LAYER) for x in layers],
    }
    if annotations:
        doc["annotations"] = annotations
    raw = dumps(doc)
    desc = p.manifest(repo, ref or sha256(raw), raw, doc["mediaType"])
    desc["platform"] = _platform(plat)
    return desc


def push_signature(
    p: Pusher,
    repo: str,
    subject_digest: str,
    *,
    sign: Callable[[bytes], bytes] | None = None,
    signed_digest: str | None = None,
    tamper: bool = False,
) -> dict[str, Any]:
    """A cosign-style signature manifest under the ``sha256-<hex>.sig`` tag.

    ``sign`` signs the payload (cosign's SIGNATURE_SPEC: the signature over the payload bytes,
    base64 in the layer annotation); without it the annotation is random bytes. The payload
    names ``signed_digest`` (default: the subject); ``tamper`` changes the payload after it
    was signed.
    """
    payload = dumps(
        {
            "critical": {
                "identity": {"docker-reference": repo},
                "image": {"docker-manifest-digest": signed_digest or subject_digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    )
    signature = (
        base64.b64encode(sign(payload)).decode() if sign else "MEUCIQD" + os.urandom(8).hex()
    )
    if tamper:
        payload = payload.replace(b'"optional":null', b'"optional":{"x":1}')
    layer = p.blob(
        repo,
        payload,
        "application/vnd.dev.cosign.simplesigning.v1+json",
        annotations={"dev.cosignproject.cosign/signature": signature},
    )
    cfg = dumps(
        {
            "architecture": "",
            "os": "",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
        }
    )
    raw = dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": p.blob(repo, cfg, OCI_CONFIG),
            "layers": [layer],
        }
    )
    tag = subject_digest.replace(":", "-") + ".sig"
    return p.manifest(repo, tag, raw, OCI_MANIFEST)


def push_attestation(p: Pusher, repo: str, subject: str) -> dict[str, Any]:
    """A buildx attestation manifest, as it appears inside an image index."""
    stmt = dumps(
        {"_type": "https://in-toto.io/Statement/v0.1", "subject": [], "x": os.urandom(8).hex()}
    )
    layer = p.blob(
        repo,
        stmt,
        "application/vnd.in-toto+json",
        annotations={"in-toto.io/predicate-type": "https://spdx.dev/Document"},
    )
    cfg = dumps(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
        }
    )
    raw = dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": p.blob(repo, cfg, OCI_CONFIG),
            "layers": [layer],
        }
    )
    desc = p.manifest(repo, sha256(raw), raw, OCI_MANIFEST)
    desc["platform"] = {"architecture": "unknown", "os": "unknown"}
    desc["annotations"] = {
        "vnd.docker.reference.digest": subject,
        "vnd.docker.reference.type": "attestation-manifest",
    }
    return desc


def push_index(
    p: Pusher, repo: str, ref: str, manifests: list[dict[str, Any]], *, docker: bool = False
) -> dict[str, Any]:
    mt = DOCKER_LIST if docker else OCI_INDEX
    raw = dumps({"schemaVersion": 2, "mediaType": mt, "manifests": manifests})
    return p.manifest(repo, ref, raw, mt)


@dataclass
class SourceImages:
    """What the session pushed to the source registry (repository ``repo``)."""

    repo: str
    index: str = ""  # OCI 3-platform index + attestation, tag "1.0"
    children: list[str] = field(default_factory=list)
    attestation: str = ""
    docker_list: str = ""  # Docker manifest list, tag "1.0-docker"
    artifact: str = ""  # unknown artifactType, tag "artifact"
    nonascii: str = ""  # annotations with non-ASCII text, tag "nonascii"
    nested: str = ""  # index of (index + image), tag "nested"
    sbom_referrer: str = ""  # referrer of `index` via the fallback tag
    referrers_index: str = ""  # the source's sha256-<hex> fallback tag
    signatures: dict[str, str] = field(default_factory=dict)  # tag -> digest
    layer_bytes: int = 0


def random_layers(n: int, size: int) -> list[bytes]:
    return [os.urandom(size) for _ in range(n)]


def push_source_set(p: Pusher, repo: str) -> SourceImages:
    out = SourceImages(repo=repo)
    base = os.urandom(40_000)  # shared base layer: dedupe and mount across images
    big = os.urandom(2_500_000)  # many socket reads: streaming with hold-back of the last piece
    children = []
    for i, plat in enumerate(PLATFORMS):
        layers = [base, *random_layers(2, 8_000 + i)]
        if i == 0:
            layers.append(big)
        children.append(push_image(p, repo, plat, layers))
    out.children = [c["digest"] for c in children]
    att = push_attestation(p, repo, children[0]["digest"])
    out.attestation = att["digest"]
    index = push_index(p, repo, "1.0", [*children, att])
    out.index = index["digest"]

    dchildren = [
        push_image(p, repo, plat, [base, *random_layers(1, 5_000)], docker=True)
        for plat in PLATFORMS[:2]
    ]
    out.docker_list = push_index(p, repo, "1.0-docker", dchildren, docker=True)["digest"]

    for digest in [out.index, *out.children]:
        sig = push_signature(p, repo, digest)
        out.signatures[digest.replace(":", "-") + ".sig"] = sig["digest"]

    # An artifact of a type nobody here knows (artifactType + empty config), e.g. a Helm chart.
    empty = p.blob(repo, b"{}", "application/vnd.oci.empty.v1+json")
    chart = p.blob(repo, os.urandom(3_000), "application/vnd.example.chart.content.v1.tar+gzip")
    raw = dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.chart.v1",
            "config": empty,
            "layers": [chart],
        }
    )
    out.artifact = p.manifest(repo, "artifact", raw, OCI_MANIFEST)["digest"]

    # Non-ASCII annotations, odd whitespace: any re-serialisation would change the digest.
    layer = p.blob(repo, os.urandom(1_000), OCI_LAYER)
    cfg = p.blob(repo, dumps({"os": "linux", "architecture": "amd64", "config": {}}), OCI_CONFIG)
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": cfg,
        "layers": [layer],
        "annotations": {"org.opencontainers.image.description": "Téléport — 日本語 ✓ \u00e9"},
    }
    raw = json.dumps(doc, ensure_ascii=False, indent=3).encode("utf-8") + b"\n"
    out.nonascii = p.manifest(repo, "nonascii", raw, OCI_MANIFEST)["digest"]

    inner = push_index(p, repo, "inner", children[:2])
    extra = push_image(p, repo, "linux/s390x", [base, os.urandom(2_000)])
    out.nested = push_index(p, repo, "nested", [inner, extra])["digest"]

    # An SBOM referring to the index (subject), listed in the source's referrers fallback tag.
    sbom_layer = p.blob(repo, dumps({"spdxVersion": "SPDX-2.3", "n": os.urandom(4).hex()}),
                        "application/spdx+json")  # fmt: skip
    sbom_raw = dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/spdx+json",
            "config": empty,
            "layers": [sbom_layer],
            "subject": index,
        }
    )
    sbom = p.manifest(repo, sha256(sbom_raw), sbom_raw, OCI_MANIFEST)
    out.sbom_referrer = sbom["digest"]
    sbom_desc = {**sbom, "artifactType": "application/spdx+json"}
    ref_tag = out.index.replace(":", "-")
    out.referrers_index = push_index(p, repo, ref_tag, [sbom_desc])["digest"]
    out.layer_bytes = len(base) + len(big)
    return out
