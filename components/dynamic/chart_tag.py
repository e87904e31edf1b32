"""ChartTag: one chart version in one destination repository, as the OCI artifact Helm pushes.

The same semantics as ImageTag (components/dynamic/image_tag.py), whose helpers it shares:

- create/update: read the pinned ``.tgz`` (and ``.prov``) from the HTTP chart repository, check
  both against their pinned sha256, build the artifact (artifact_mirrors/charts/artifact.py),
  check it is the pinned manifest digest, then push blobs, the manifest by digest and the tag
  last; an OCI source is copied by digest with the image copier. A tag already naming another
  digest is never moved;
- diff: desired state against the recorded state *and* the live destination (a tag deleted or
  moved behind our back is an update in the next preview); an unreachable mirror during a
  preview falls back to the recorded state;
- a change of how the destination or the source is reached is an update that pushes nothing;
- yank (published: true -> false) deletes the tag; delete removes a tag only for a yanked
  release (published resources are retain_on_delete as well).

Every ChartTag of the process shares the ImageTags' CopySession: a chart version is read from
its source once for all mirrors, and blobs are mounted between repositories of a registry.
"""

from __future__ import annotations

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

from artifact_mirrors.charts.artifact import ChartArtifact
from artifact_mirrors.charts.push import push_chart
from artifact_mirrors.charts.resolve import fetch_artifact
from artifact_mirrors.oci.errors import MirrorError
from components.dynamic import DynamicResource, StackConfigProvider, keyed_diff, props_of
from components.dynamic.image_tag import _live_digest, _pooled, _session, _target, _unpublish

COPY_KEYS = ("source", "url", "sha256", "prov_url", "prov_sha256", "created", "digest",
             "published")  # fmt: skip
SETTING_KEYS = ("credentials", "ca_file", "insecure", "tls_verify", "registry_kind", "release",
                "registry", "chart", "source_ca_file")  # fmt: skip
UPDATE_KEYS = (*COPY_KEYS, *SETTING_KEYS)
REPLACE_KEYS = ("repository", "tag")


@dataclass(frozen=True)
class ChartTagArgs:
    """Inputs, exactly as stored in state (credentials are named, never held)."""

    registry: str  # the spec's registry name
    release: str
    chart: str  # the spec's chart name
    repository: str  # destination repository, e.g. public.ecr.aws/teleport-mirror/charts/x
    tag: str  # the chart version (OCI-safe)
    digest: str  # the pinned manifest digest
    published: bool
    registry_kind: str
    # HTTP source: the pinned files and the index entry's created time.
    url: str | None = None
    sha256: str | None = None
    prov_url: str | None = None
    prov_sha256: str | None = None
    created: str | None = None
    source_ca_file: str | None = None
    # OCI source: repository@digest.
    source: str | None = None
    insecure: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    credentials: dict[str, str] = field(default_factory=dict)

    def props(self) -> dict[str, Any]:
        return props_of(self)


def _artifact(props: dict[str, Any]) -> ChartArtifact:
    def fetch() -> ChartArtifact:
        return fetch_artifact(
            url=props["url"],
            sha256=props["sha256"],
            prov_url=props.get("prov_url"),
            prov_sha256=props.get("prov_sha256"),
            created=props["created"],
            digest=props["digest"],
            ca_file=props.get("source_ca_file"),
        )

    # One read of the chart source per process for every mirror (the session outlives a call).
    key = ("chart", props["url"], props["sha256"], props.get("prov_sha256"), props["digest"])
    return _session().memo(key, fetch)


def _push(props: dict[str, Any], config: Config | None) -> dict[str, Any]:
    copier = _pooled(props, config)[1]
    if props.get("source"):
        result = copier.copy_image(
            props["source"], props["repository"], props["tag"], signatures=False
        )
        digest = result.digest
    else:
        digest = push_chart(copier, _artifact(props), props["repository"], props["tag"]).digest
    if digest != props["digest"]:
        raise MirrorError(f"pushed {digest}, expected {props['digest']}")
    return dict(props)


def diff_inputs(olds: dict[str, Any], news: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The inputs-only half of ``diff`` (no network), for `mirrors plan --against`."""
    return keyed_diff(olds, news, REPLACE_KEYS, UPDATE_KEYS)


class ChartTagProvider(StackConfigProvider):
    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        try:
            if props.get("published", True):
                return _push(props, self._config)
            _unpublish(props, self._config)
            return dict(props)
        except MirrorError as exc:
            raise RuntimeError(f"{_target(props)}: {exc}") from None

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(_target(props), self._apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces, changed = diff_inputs(olds, news)
        if not replaces and not changed:
            want = news["digest"] if news.get("published", True) else None
            try:
                live = _live_digest(news, self._config)
            except (MirrorError, OSError, BotoCoreError, ClientError):
                live = want  # unreachable during a preview: `pulumi up` reports the real error
            if live != want:
                changed.append("digest")  # drift: deleted or moved behind our back
        return DiffResult(
            changes=bool(replaces or changed), replaces=replaces, delete_before_replace=False
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _, changed = diff_inputs(olds, news)
        if changed and all(k in SETTING_KEYS for k in changed):
            return UpdateResult(dict(news))  # only how things are reached changed
        return UpdateResult(self._apply(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if not props.get("published", True):
            self._apply(props)


_PROVIDER = ChartTagProvider()


class ChartTag(DynamicResource, module="artifact-mirrors", name="ChartTag"):
    digest: pulumi.Output[str]

    def __init__(
        self, name: str, args: ChartTagArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_PROVIDER, name, args.props(), opts)
