"""Terraform provider mirrors: one component per provider (its destinations' index documents) and
one per (release, provider) (the version's files and documents).

- **documents** (``.well-known/terraform.json``, ``versions``, download documents,
  ``index.json``, ``VERSION.json``): ``aws.s3.BucketObjectv2`` with the generated JSON as
  ``content`` and ``Content-Type: application/json`` (`artifact_mirrors.terraform.layout`);
- **files** (zip, ``.sums``, ``.sums.sig``): ``ProviderFile``, the library's streamed,
  sha256-checked copy (components/dynamic/terraform.py);
- the index documents depend on every version's files and documents, so a version is listed
  only once everything it names is in the mirror;
- everything is ``retain_on_delete``: removing a release from the program unpublishes nothing.
  A yank drops the version from the index documents; with ``yank: delete-files`` its files are
  deleted (``published: false``) and its documents too (they are then not retained);
- an optional CloudFront invalidation of the index documents when they change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from artifact_mirrors import naming
from artifact_mirrors.spec.model import Release, TerraformDestination, TerraformProvider
from artifact_mirrors.terraform import layout
from components.aws_partition import local_endpoint_args
from components.dynamic.terraform import (
    CloudFrontInvalidation,
    CloudFrontInvalidationArgs,
    ProviderFile,
    ProviderFileArgs,
)

TYPE = f"{naming.TYPE_PREFIX}:TerraformProviderMirror"
VERSION_TYPE = f"{naming.TYPE_PREFIX}:TerraformVersionMirror"


def _document(
    provider: str,
    dest: TerraformDestination,
    doc: layout.Document,
    aws_provider: aws.Provider,
    parent: pulumi.Resource,
    *,
    retain: bool = True,
    depends_on: list[pulumi.Resource] | None = None,
) -> aws.s3.BucketObjectv2:
    return aws.s3.BucketObjectv2(
        naming.terraform_object(provider, dest.name, doc.key),
        bucket=dest.bucket,
        key=doc.key,
        content=doc.content,
        content_type=doc.content_type,
        opts=pulumi.ResourceOptions(
            parent=parent,
            provider=aws_provider,
            retain_on_delete=retain,
            depends_on=depends_on or [],
        ),
    )


class TerraformProviderMirror(pulumi.ComponentResource):
    """A provider's destinations: their AWS providers, discovery and index documents."""

    providers: dict[str, aws.Provider]

    def __init__(
        self, name: str, spec: TerraformProvider, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self.spec = spec
        self.providers = {
            d.name: aws.Provider(
                naming.terraform_aws_provider(spec.name, d.name),
                region=d.region,
                profile=d.profile,
                default_tags=aws.ProviderDefaultTagsArgs(tags={"managed-by": naming.PROJECT}),
                opts=pulumi.ResourceOptions(parent=self),
                **local_endpoint_args(None),
            )
            for d in spec.destinations
        }
        self.indexes: dict[str, str] = {}

    def publish_index(
        self,
        releases: Iterable[Release],
        versions: dict[str, TerraformVersionMirror],
        well_known: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        """The index documents of every destination: the versions of releases not yanked.

        ``well_known``: the (provider, destination) pairs that publish their site's discovery
        document (`layout.well_known_owners`: one per site, however many providers share it)."""
        rps = [r.terraform_providers[self.spec.name] for r in releases
               if not r.yanked and self.spec.name in r.terraform_providers]  # fmt: skip
        audit: dict[str, Any] = {}
        for dest in self.spec.destinations:
            after = [res for v in versions.values() for res in v.resources.get(dest.name, [])]
            index = layout.index_document(dest, self.spec, rps)
            docs = [index]
            wk = layout.well_known(dest)
            if wk is not None and (self.spec.name, dest.name) in well_known:
                docs.append(wk)
            created = [
                _document(
                    self.spec.name, dest, d, self.providers[dest.name], self, depends_on=after
                )
                for d in docs
            ]
            if dest.cloudfront_distribution:
                # The discovery document never changes; listed so that a first publish also
                # drops a 404 CloudFront may have cached for it.
                watched = [index] if wk is None else [index, wk]
                CloudFrontInvalidation(
                    naming.terraform_invalidation(self.spec.name, dest.name),
                    CloudFrontInvalidationArgs(
                        distribution_id=dest.cloudfront_distribution,
                        documents=layout.invalidation_documents(watched, dest.prefix),
                        profile=dest.profile,
                    ),
                    pulumi.ResourceOptions(parent=self, depends_on=created),
                )
            audit[dest.name] = {
                "bucket": dest.bucket,
                "kind": dest.kind,
                "versions": [rp.version for rp in rps],
            }
        self.register_outputs({"destinations": audit})


@dataclass(frozen=True)
class TerraformVersionMirrorArgs:
    release: Release
    mirror: TerraformProviderMirror


class TerraformVersionMirror(pulumi.ComponentResource):
    """One release's provider version in every destination: its files, then its documents."""

    resources: dict[str, list[pulumi.Resource]]  # destination -> what the index waits for
    audit: dict[str, dict[str, str]]  # destination -> S3 key -> sha256 of the object

    def __init__(
        self,
        name: str,
        args: TerraformVersionMirrorArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(VERSION_TYPE, name, None, opts)
        spec = args.mirror.spec
        release = args.release
        rp = release.terraform_providers[spec.name]
        self.resources = {}
        self.audit = {}
        for dest in spec.destinations:
            aws_provider = args.mirror.providers[dest.name]
            drop = release.yanked and dest.delete_yanked_files
            files: list[pulumi.Resource] = []
            record: dict[str, str] = {}
            for f in layout.files(dest, spec, rp):
                files.append(
                    ProviderFile(
                        naming.terraform_object(spec.name, dest.name, f.key),
                        ProviderFileArgs(
                            destination=f"{spec.name}/{dest.name}",
                            release=release.name,
                            platform=f.platform,
                            kind=f.kind,
                            bucket=dest.bucket,
                            key=f.key,
                            region=dest.region,
                            source_url=f.source_url,
                            sha256=f.sha256,
                            content_type=f.content_type,
                            published=not drop,
                            profile=dest.profile,
                            ca_file=spec.ca_file,
                        ),
                        pulumi.ResourceOptions(parent=self, retain_on_delete=True),
                    )
                )
                record[f.key] = f.sha256
            docs: list[pulumi.Resource] = []
            if not drop:
                for d in layout.version_documents(dest, spec, rp):
                    docs.append(
                        _document(
                            spec.name,
                            dest,
                            d,
                            aws_provider,
                            self,
                            retain=not dest.delete_yanked_files,
                            depends_on=files,
                        )
                    )
                    record[d.key] = hashlib.sha256(d.content.encode()).hexdigest()
            self.resources[dest.name] = files + docs
            self.audit[dest.name] = record
        self.register_outputs({"objects": self.audit})
