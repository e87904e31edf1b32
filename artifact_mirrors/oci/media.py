"""Media types and read-only views of manifests.

Manifests are parsed only to find their children; the bytes that travel are always the raw bytes
fetched from the source (re-serialising would change the digest).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from artifact_mirrors.oci.errors import DigestMismatchError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_ARTIFACT = (
    "application/vnd.oci.artifact.manifest.v1+json"  # withdrawn from the spec, still seen
)
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_IMAGE_CONFIG = "application/vnd.docker.container.image.v1+json"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST, OCI_ARTIFACT})
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST, OCI_ARTIFACT])
IMAGE_CONFIG_TYPES = frozenset({OCI_IMAGE_CONFIG, DOCKER_IMAGE_CONFIG})

# Layers that registries are not required to hold (Windows base layers): they carry "urls" and
# docker-registry accepts manifests that reference them without the blob.
_FOREIGN = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)
# buildx puts SBOM/provenance manifests inside the index with this annotation
# (https://docs.docker.com/build/metadata/attestations/attestation-storage/).
ATTESTATION_ANNOTATION = "vnd.docker.reference.type"


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def verify_digest(data: bytes, digest: str, what: str) -> None:
    algorithm = digest.partition(":")[0]
    actual = digest_of(data, algorithm)
    if actual != digest:
        raise DigestMismatchError(f"{what}: content hashes to {actual}, expected {digest}")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: str | None = None
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Descriptor:
        plat = doc.get("platform")
        platform: str | None = None
        if isinstance(plat, dict):
            platform = "/".join(
                str(p) for p in (plat.get("os"), plat.get("architecture"), plat.get("variant")) if p
            )
        return cls(
            media_type=str(doc.get("mediaType", "")),
            digest=str(doc["digest"]),
            size=int(doc.get("size", 0)),
            platform=platform,
            annotations={str(k): str(v) for k, v in (doc.get("annotations") or {}).items()},
            urls=tuple(str(u) for u in doc.get("urls") or ()),
        )

    @property
    def is_attestation(self) -> bool:
        return ATTESTATION_ANNOTATION in self.annotations or self.platform == "unknown/unknown"

    @property
    def is_foreign(self) -> bool:
        return self.media_type in _FOREIGN and bool(self.urls)


@dataclass(frozen=True)
class Manifest:
    """Raw manifest bytes plus the Content-Type they were served with."""

    raw: bytes
    media_type: str
    digest: str

    @cached_property
    def doc(self) -> dict[str, Any]:
        # Parsed once, read only; a manifest that is not JSON is still copied verbatim.
        try:
            doc = json.loads(self.raw)
        except (ValueError, UnicodeDecodeError):
            return {}
        return doc if isinstance(doc, dict) else {}

    @property
    def is_index(self) -> bool:
        if self.media_type in INDEX_TYPES:
            return True
        # Some registries serve indexes as application/json; trust the body then.
        return self.media_type not in MANIFEST_TYPES and isinstance(self.doc.get("manifests"), list)

    @property
    def children(self) -> list[Descriptor]:
        """Child manifests of an index (nested indexes, images, attestation manifests)."""
        if not self.is_index:
            return []
        return [Descriptor.from_json(d) for d in self.doc.get("manifests") or []]

    @property
    def config(self) -> Descriptor | None:
        cfg = self.doc.get("config")
        return Descriptor.from_json(cfg) if isinstance(cfg, dict) and "digest" in cfg else None

    @property
    def blobs(self) -> list[Descriptor]:
        """Config and layers (or an artifact manifest's blobs), without foreign layers."""
        if self.is_index:
            return []
        out: list[Descriptor] = []
        if self.config is not None:
            out.append(self.config)
        for key in ("layers", "blobs"):
            for d in self.doc.get(key) or []:
                if isinstance(d, dict) and "digest" in d:
                    desc = Descriptor.from_json(d)
                    if not desc.is_foreign:
                        out.append(desc)
        return out

    @property
    def subject(self) -> Descriptor | None:
        sub = self.doc.get("subject")
        return Descriptor.from_json(sub) if isinstance(sub, dict) and "digest" in sub else None

    @property
    def artifact_type(self) -> str | None:
        value = self.doc.get("artifactType")
        if value:
            return str(value)
        cfg = self.config
        return cfg.media_type if cfg is not None else None

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.raw))
