"""ImageTag: one tag in a destination repository, pointing at a pinned digest, copied bit for bit.

pulumi-docker's RegistryImage/Tag need a local Docker engine and push one platform (the digest
changes), so the digest-preserving copy is a dynamic resource on the project's own OCI copier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from components.dynamic import DynamicResource, props_of

NOT_IMPLEMENTED = (
    "image tags cannot be copied yet: the registry copy engine has not landed "
    "(see the registry mirroring issue); run `mirrors plan` to review, not `pulumi up`"
)


@dataclass(frozen=True)
class ImageTagArgs:
    """Inputs, exactly as they are stored in state (no secrets: credentials are named, not held)."""

    registry: str  # the spec's registry name
    release: str  # the release this tag belongs to (for floating tags: the one it points at)
    source: str  # first-party repository@digest
    repository: str  # destination repository, e.g. docker.io/gravitational/teleport-distroless
    tag: str
    digest: str
    floating: bool
    published: bool  # false: the release is yanked; the tag must not exist at the destination
    signatures: bool
    registry_kind: str
    insecure: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    credentials: dict[str, str] = field(default_factory=dict)  # where to read them, never values

    def props(self) -> dict[str, Any]:
        return props_of(self)


class ImageTagProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        if not props.get("published", True):
            # A yanked release that was never mirrored: nothing to copy, nothing to delete.
            return CreateResult(f"{props['repository']}:{props['tag']}", {**props, "platforms": []})
        raise RuntimeError(NOT_IMPLEMENTED)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("source", "digest", "published", "tag", "repository", "signatures", "floating")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        replaces: list[str] = [k for k in ("repository", "tag") if k in changed]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        raise RuntimeError(NOT_IMPLEMENTED)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Deleting the resource never deletes the tag: unpublishing happens only through
        # `yanked: true` (published=false), which is an update. Resources are retain_on_delete too.
        return None


_PROVIDER = ImageTagProvider()


class ImageTag(DynamicResource, module="artifact-mirrors", name="ImageTag"):
    digest: pulumi.Output[str]
    platforms: pulumi.Output[list[str]]
    signature_digests: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: ImageTagArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {**args.props(), "platforms": None, "signature_digests": None}
        super().__init__(_PROVIDER, name, props, opts)
