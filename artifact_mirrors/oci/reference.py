"""Image references parsed the way docker writes them.

Grammar: https://github.com/distribution/reference/blob/main/reference.go and the normalisation in
normalize.go: the first path component is a registry host only if it contains "." or ":" or is
"localhost"; otherwise the reference lives on Docker Hub, whose API host is registry-1.docker.io
and whose one-component names live under "library/".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from artifact_mirrors.oci.errors import InvalidReference

DOCKER_HUB_API = "registry-1.docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_TAG = re.compile(r"[\w][\w.-]{0,127}\Z")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}\Z")
_HOST = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?\Z"
)
_IPV6_HOST = re.compile(r"\[[0-9a-fA-F:]+\](?::[0-9]+)?\Z")
_HEX_LEN = {"sha256": 64, "sha512": 128}

REF_HINT = "write [HOST[:PORT]/]REPOSITORY[:TAG][@sha256:DIGEST], e.g. quay.io/org/app:1.2.3"


def validate_digest(digest: str) -> str:
    """Return ``digest`` if it is a well-formed sha256/sha512 digest; raise InvalidReference."""
    if not _DIGEST.match(digest):
        raise InvalidReference("malformed digest", digest, "digests look like sha256:<64 hex>")
    algorithm, _, hexpart = digest.partition(":")
    want = _HEX_LEN.get(algorithm)
    if want is None:
        raise InvalidReference(
            f"unsupported digest algorithm {algorithm}", digest, "use a sha256 digest"
        )
    if len(hexpart) != want or not re.fullmatch(r"[0-9a-f]+", hexpart):
        raise InvalidReference(
            f"{algorithm} digest must be {want} lowercase hex characters",
            digest,
            "copy the digest from `docker buildx imagetools inspect` or `crane digest`",
        )
    return digest


def validate_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise InvalidReference(
            "invalid tag",
            tag,
            "tags are 1-128 letters, digits, '_', '.', '-' (not starting with . or -)",
        )
    return tag


@dataclass(frozen=True)
class Reference:
    """A parsed reference. ``registry`` is the API host (registry-1.docker.io for Docker Hub)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, value: str) -> Reference:
        return parse_reference(value)

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def target(self) -> str:
        """``:tag``, ``@digest`` (digest wins), or "" for a bare repository."""
        if self.digest:
            return f"@{self.digest}"
        if self.tag:
            return f":{self.tag}"
        return ""

    def with_tag(self, tag: str | None) -> Reference:
        return Reference(self.registry, self.repository, tag, None)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(value: str) -> Reference:
    """Parse ``value`` like docker does (see module docstring); raise InvalidReference."""
    raw = value.strip()
    if not raw:
        raise InvalidReference("empty reference", repr(value), REF_HINT)
    if "://" in raw:
        raise InvalidReference("references have no URL scheme", value, REF_HINT)
    name, at, digest = raw.partition("@")
    digest_value: str | None = None
    if at:
        digest_value = validate_digest(digest)
    tag: str | None = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], validate_tag(name[colon + 1 :])
    first, sep, rest = name.partition("/")
    if sep and (("." in first or ":" in first) or first == "localhost"):
        if not (_HOST.match(first) or _IPV6_HOST.match(first)):
            raise InvalidReference("invalid registry host", first, REF_HINT)
        registry, path = first, rest
    else:
        registry, path = "docker.io", name
    if registry in _DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB_API
        if "/" not in path:
            path = f"library/{path}"
    if not path:
        raise InvalidReference("missing repository name", value, REF_HINT)
    for component in path.split("/"):
        if not _COMPONENT.match(component):
            raise InvalidReference(
                "invalid repository name",
                value,
                "repository path components are lowercase letters, digits and separators . _ __ -",
            )
    if len(path) > 255:
        raise InvalidReference("repository name longer than 255 characters", value, REF_HINT)
    return Reference(registry, path, tag, digest_value)
