"""ImageTag: one tag in a destination repository, pointing at a pinned digest, copied bit for bit.

pulumi-docker's RegistryImage/Tag need a local Docker engine and push one platform (the digest
changes), so the digest-preserving copy is a dynamic resource on the project's own OCI copier
(`artifact_mirrors.oci`): the whole index with every platform, attestation and cosign signature,
children first and the tag last.

- create/update: copy (a release tag already pointing elsewhere is never moved: the copier's
  no-clobber error stops the update; only floating tags move);
- diff: desired state against the recorded state *and* the live destination, so a tag deleted or
  moved behind our back shows as an update in the next preview, without a ``pulumi refresh``
  (the SDK's ``Read`` would only run on refresh). A destination that cannot be asked during a
  preview (unreachable, 429/5xx, no ECR token) falls back to the recorded state;
- a change of how the destination is reached (credentials, CA, insecure, kind) or of the release
  a floating tag records is an update that copies nothing;
- yank (published: true -> false) is an update that deletes the tag; delete removes a tag only
  for a yanked release (published resources are retain_on_delete as well).

Credentials are read at call time (environment, Docker credential store, AWS profile); the inputs
only name where they come from, so nothing secret reaches state or the pickled provider.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import pulumi
from botocore.exceptions import BotoCoreError, ClientError
from pulumi.dynamic import (
    Config,
    CreateResult,
    DiffResult,
    UpdateResult,
)

from artifact_mirrors.oci import ops
from artifact_mirrors.oci.client import Registries
from artifact_mirrors.oci.copy import Copier, CopySession
from artifact_mirrors.oci.errors import MirrorError
from artifact_mirrors.oci.reference import parse_reference
from artifact_mirrors.oci.settings import registries_for
from artifact_mirrors.oci.signatures import SignatureError, check_policy
from artifact_mirrors.oci.spool import Spool
from artifact_mirrors.spec.model import VerifyPolicy
from components.dynamic import DynamicResource, StackConfigProvider, keyed_diff, props_of

# Inputs whose change means "copy again / move / unpublish" (an update).
COPY_KEYS = ("source", "digest", "published", "signatures", "floating")
# Inputs that only say how to reach the destination, or record where a tag comes from: an update
# (so state never keeps stale values) that copies nothing.
# A new signature policy is recorded without copying: a tag already published stays (`mirrors
# verify --deep` reports its signature); the policy gates every copy from then on.
SETTING_KEYS = ("credentials", "ca_file", "insecure", "tls_verify", "registry_kind", "release",
                "registry", "verify")  # fmt: skip
UPDATE_KEYS = (*COPY_KEYS, *SETTING_KEYS)
# Inputs that name a different tag altogether (a replacement).
REPLACE_KEYS = ("repository", "tag")


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
    # The image's signature policy (VerifyPolicy.props: public keys as PEM, keyless identities,
    # trusted root): public data the provider checks the source against before copying.
    verify: dict[str, Any] | None = None

    def props(self) -> dict[str, Any]:
        return props_of(self)


# One Registries (HTTP clients, tokens, TLS) per destination setting for the provider process's
# life: a preview diffs hundreds of tags, and a fresh client per tag would redo the TLS handshake
# and the token exchange each time. Credentials named in the inputs are read on first use;
# missing ones are an error (a copy must never go anonymous).
#
# Every copy of the process shares one CopySession: the engine serves all ImageTag resources of a
# stack from this one process, 4 calls at a time (pulumi/dynamic/__main__.py), so the session is
# where a blob one resource uploaded is mounted by its siblings in the same registry, where two
# resources needing the same blob at once upload it once, and where a blob read from the source
# for one registry is served to the others from the verified spool (MIRRORS_SPOOL_MAX_MB).
_POOL: dict[tuple[str, ...], tuple[Registries, Copier]] = {}
_POOL_LOCK = threading.Lock()
_SESSION: CopySession | None = None


def _session() -> CopySession:
    global _SESSION
    with _POOL_LOCK:
        if _SESSION is None:
            _SESSION = CopySession(spool=Spool())
        return _SESSION


def _pooled(props: dict[str, Any], config: Config | None) -> tuple[Registries, Copier]:
    key = (
        parse_reference(props["repository"]).registry,
        str(props.get("registry_kind")),
        json.dumps(props.get("credentials") or {}, sort_keys=True),
        str(bool(props.get("insecure"))),
        str(props.get("ca_file")),
    )
    session = _session()
    with _POOL_LOCK:
        pooled = _POOL.get(key)
        if pooled is None:
            regs = registries_for(props, config)
            pooled = _POOL[key] = (regs, Copier(regs, session=session))
        return pooled


def _registries(props: dict[str, Any], config: Config | None) -> Registries:
    return _pooled(props, config)[0]


def _target(props: dict[str, Any]) -> str:
    return f"{props['repository']}:{props['tag']}"


def _check_source(props: dict[str, Any], config: Config | None) -> None:
    """A required policy: the source digest must be validly signed before the first byte goes."""
    policy = VerifyPolicy.from_props(props.get("verify"))
    if policy is None or not policy.required:
        return
    src = parse_reference(props["source"])
    client = _registries(props, config).client(src.registry)
    verdict = check_policy(client, src.repository, props["digest"], policy)
    if not verdict.ok:
        raise MirrorError(
            f"{SignatureError(src.name, verdict)}. Hint: nothing was copied; the image's verify"
            " policy requires a valid signature of this digest at the source"
        )


def _copy(props: dict[str, Any], config: Config | None) -> dict[str, Any]:
    _check_source(props, config)
    result = _pooled(props, config)[1].copy_image(
        props["source"],
        props["repository"],
        props["tag"],
        floating=bool(props.get("floating")),
        signatures=bool(props.get("signatures", True)),
    )
    if result.digest != props["digest"]:
        # Impossible unless the source lies about its digest: refuse to record it.
        raise MirrorError(f"{_target(props)}: copied {result.digest}, expected {props['digest']}")
    return {
        **props,
        "platforms": list(result.platforms),
        "signature_digests": dict(result.signature_digests),
    }


def _unpublish(props: dict[str, Any], config: Config | None) -> dict[str, Any]:
    kind = props.get("registry_kind")
    ref = parse_reference(_target(props))
    if kind in ("dockerhub", "quay"):
        # Neither implements DELETE in the distribution API; both have their own REST API, with
        # the credentials MirrorRepository uses (any source the spec allows, read now).
        from components.dynamic.repository import hub_client

        namespace, _, name = ref.repository.partition("/")
        settings = {
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "host": str(props["repository"]).split("/", 1)[0],  # docker.io / quay.io as written
            "credentials": props.get("credentials") or {},
        }
        with hub_client(settings, config) as client:
            client.delete_tag(namespace, name, props["tag"])
    elif kind in ("ecr", "ecr-public"):
        # Neither implements tag DELETE in the distribution API: BatchDeleteImage, with the
        # registry's own AWS profile (the one its pushes use), idempotent.
        from artifact_mirrors.oci import ecr

        target = ecr.EcrTag.parse(kind, props["repository"], props["tag"])
        ecr.delete_tag(target, profile=(props.get("credentials") or {}).get("profile"))
    else:
        ops.delete_tag(ref, registries=_registries(props, config))
    return {**props, "platforms": [], "signature_digests": {}}


def _live_digest(props: dict[str, Any], config: Config | None) -> str | None:
    return ops.resolve(_target(props), registries=_registries(props, config))


def _explain(exc: MirrorError, props: dict[str, Any]) -> RuntimeError:
    # One line naming the tag; the copier's message already names registry, digest, status.
    return RuntimeError(f"{_target(props)}: {exc}")


def diff_inputs(olds: dict[str, Any], news: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The inputs-only half of ``diff`` (no network): (keys that replace, keys that update).

    ``diff`` adds the live drift check on top; `mirrors plan --against` and the step-plan tests
    call this directly to decide offline what an update would do.
    """
    return keyed_diff(olds, news, REPLACE_KEYS, UPDATE_KEYS)


class ImageTagProvider(StackConfigProvider):
    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        try:
            if props.get("published", True):
                return _copy(props, self._config)
            # Yanked: make sure the tag is gone (also when it was never mirrored).
            return _unpublish(props, self._config)
        except MirrorError as exc:
            raise _explain(exc, props) from None

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(_target(props), self._apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces, changed = diff_inputs(olds, news)
        if not replaces and not changed:
            try:
                live = _live_digest(news, self._config)
            except (MirrorError, OSError, BotoCoreError, ClientError):
                # Unreachable, rate-limited, no read access or no ECR token during a preview:
                # fall back to the recorded state rather than failing the whole preview;
                # `pulumi up` surfaces the real error when it copies.
                live = news["digest"] if news.get("published", True) else None
            want = news["digest"] if news.get("published", True) else None
            if live != want:
                changed.append("digest")  # drift: deleted or moved behind our back
        return DiffResult(
            changes=bool(replaces or changed),
            replaces=replaces,
            delete_before_replace=False,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _, changed = diff_inputs(olds, news)
        if changed and all(k in SETTING_KEYS for k in changed):
            # Only how the destination is reached changed: nothing to copy again.
            kept = {k: olds.get(k) for k in ("platforms", "signature_digests")}
            return UpdateResult({**news, **kept})
        return UpdateResult(self._apply(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # A published tag is never deleted with its resource (published resources are also
        # retain_on_delete, so the engine doesn't even ask). Only a yanked release's tag is
        # removed, again: the yank update already did, this keeps it idempotent.
        if not props.get("published", True):
            self._apply(props)


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
