"""Image components: repositories and floating tags per registry, release tags per release."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from artifact_mirrors import labels, naming
from artifact_mirrors.floating import FloatingTag
from artifact_mirrors.regions import ECR_PUBLIC_API_REGION
from artifact_mirrors.spec.model import Chart, Image, Labels, Registry, Release
from components.aws_partition import AwsProviders, local_endpoint_args
from components.dynamic.image_tag import ImageTag, ImageTagArgs
from components.dynamic.repository import MirrorRepository, MirrorRepositoryArgs

REGISTRY_TYPE = f"{naming.TYPE_PREFIX}:RegistryMirror"
IMAGE_TYPE = f"{naming.TYPE_PREFIX}:ImageMirror"


def tag_args(
    registry: Registry, image: Image, release: Release, tag: str, *, floating: bool, published: bool
) -> ImageTagArgs:
    digest = release.images[image.name].digest
    return ImageTagArgs(
        registry=registry.name,
        release=release.name,
        source=f"{image.source}@{digest}",
        repository=registry.repository(image.repository),
        tag=tag,
        digest=digest,
        floating=floating,
        published=published,
        signatures=image.signatures,
        registry_kind=registry.kind,
        insecure=registry.insecure,
        tls_verify=registry.tls_verify,
        ca_file=registry.ca_file,
        credentials=registry.credentials.names(),
        verify=image.verify.props() if image.verify is not None else None,
    )


@dataclass(frozen=True)
class RegistryMirrorArgs:
    registry: Registry
    images: tuple[Image, ...]  # images mirrored to this registry
    labels: Labels
    # The AMI partitions' providers. Not used for repositories: an ECR / ECR Public registry has
    # its own provider (RegistryMirror.aws_provider) with the registry's credentials.profile.
    providers: AwsProviders
    charts: tuple[Chart, ...] = ()  # Helm charts mirrored to this registry


class RegistryMirror(pulumi.ComponentResource):
    """One destination registry: its repositories (with the mirror label) and floating tags.

    Floating tags live here, not under a release, so that moving ``17`` from 17.0.1 to 17.0.2 is
    an update of one resource rather than a delete under one release and a create under another.
    """

    def __init__(
        self, name: str, args: RegistryMirrorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(REGISTRY_TYPE, name, None, opts)
        self.args = args
        self.repositories: dict[str, pulumi.Resource] = {}
        self.chart_repositories: dict[str, pulumi.Resource] = {}
        self._aws_provider: aws.Provider | None = None
        reg = args.registry
        for image in args.images:
            repo = self._repository(reg, image)
            if repo is not None:
                self.repositories[image.name] = repo
        for chart in args.charts:
            chart_repo = self._chart_repository(reg, chart)
            if chart_repo is not None:
                self.chart_repositories[chart.name] = chart_repo
        self.register_outputs(
            {
                "registry": reg.name,
                "repositories": [reg.repository(i.repository) for i in args.images]
                + [reg.repository(c.repository) for c in args.charts],
            }
        )

    def aws_provider(self) -> aws.Provider:
        """This ECR / ECR Public registry's own provider, created on first use.

        The repositories must be created with the credentials the pushes use (the registry's
        ``credentials.profile``), not with an AMI partition's profile and ``allowed_account_ids``
        (nor ambient credentials when the spec has no ``amis:``). ECR Public's API is only in
        us-east-1. An ECR registry's account is in its host name, so the provider refuses any
        other account, like the partitions' providers do.
        """
        if self._aws_provider is None:
            reg = self.args.registry
            host_account = reg.host.split(".", 1)[0] if reg.kind == "ecr" else ""
            account = host_account if host_account.isdigit() else None
            self._aws_provider = aws.Provider(
                naming.registry_aws_provider(reg.name),
                region=reg.region if reg.kind == "ecr" else ECR_PUBLIC_API_REGION,
                profile=reg.credentials.profile,
                allowed_account_ids=[account] if account else None,
                # MIRRORS_AWS_ENDPOINT_URL (local stack, tests): the partitions' same arguments.
                **local_endpoint_args(account),
                default_tags=aws.ProviderDefaultTagsArgs(tags={"managed-by": naming.PROJECT}),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return self._aws_provider

    def _repository(self, reg: Registry, image: Image) -> pulumi.Resource | None:
        name = naming.repository(reg, image)
        short = labels.image_description(self.args.labels, image, reg)
        if reg.kind == "ecr-public":
            return aws.ecrpublic.Repository(
                name,
                repository_name=image.repository,
                catalog_data=aws.ecrpublic.RepositoryCatalogDataArgs(
                    description=short,
                    about_text=labels.image_full_description(self.args.labels, image, reg),
                    operating_systems=["Linux"],
                    architectures=sorted(_ecr_architectures(image.platforms)),
                ),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=self.aws_provider(),
                    retain_on_delete=True,
                ),
            )
        if reg.kind == "ecr":
            assert reg.region is not None  # checked by the spec loader
            return aws.ecr.Repository(
                name,
                name=f"{reg.namespace}/{image.repository}",
                # Floating tags move, so tags stay mutable; release tags are protected by the
                # copier's no-clobber check instead.
                image_tag_mutability="MUTABLE",
                tags={"mirror-of": image.source, "description": short[:256]},
                opts=pulumi.ResourceOptions(
                    parent=self, provider=self.aws_provider(), retain_on_delete=True
                ),
            )
        if reg.kind in ("dockerhub", "quay"):
            # Docker Hub and quay.io have no provider resource: their HTTP APIs, via a dynamic one.
            # Credentials by name only, as ImageTag takes them; read by the provider at call time.
            return MirrorRepository(
                name,
                MirrorRepositoryArgs(
                    kind=reg.kind,
                    namespace=reg.namespace,
                    name=image.repository,
                    description=short,
                    full_description=labels.image_full_description(self.args.labels, image, reg),
                    host=reg.host,
                    credentials=reg.credentials.names(),
                ),
                pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )
        # oci registries create repositories on first push.
        return None

    def _chart_repository(self, reg: Registry, chart: Chart) -> pulumi.Resource | None:
        """ECR and ECR Public refuse a push to a repository that does not exist; Docker Hub,
        quay.io and oci registries create it on the first push."""
        name = naming.chart_repository(reg.name, chart.repository)
        source = chart.url or chart.oci or ""
        about = f"Helm chart {chart.chart}, mirrored from {source} (the same .tgz, unchanged)."
        if reg.kind == "ecr-public":
            return aws.ecrpublic.Repository(
                name,
                repository_name=chart.repository,
                catalog_data=aws.ecrpublic.RepositoryCatalogDataArgs(
                    description=about, about_text=about
                ),
                opts=pulumi.ResourceOptions(
                    parent=self, provider=self.aws_provider(), retain_on_delete=True
                ),
            )
        if reg.kind == "ecr":
            return aws.ecr.Repository(
                name,
                name=f"{reg.namespace}/{chart.repository}",
                image_tag_mutability="MUTABLE",
                tags={"mirror-of": source, "description": about[:256]},
                opts=pulumi.ResourceOptions(
                    parent=self, provider=self.aws_provider(), retain_on_delete=True
                ),
            )
        return None

    def floating_tag(
        self, image: Image, release: Release, ft: FloatingTag, depends_on: list[pulumi.Resource]
    ) -> ImageTag:
        reg = self.args.registry
        repo = self.repositories.get(image.name)
        return ImageTag(
            naming.image_tag(reg, image, ft.tag),
            tag_args(reg, image, release, ft.tag, floating=True, published=ft.published),
            pulumi.ResourceOptions(
                parent=self,
                # The floating tag moves only after the release tag it points at is complete.
                depends_on=[*depends_on, *([repo] if repo else [])],
                retain_on_delete=True,
            ),
        )


def _ecr_architectures(platforms: tuple[str, ...]) -> set[str]:
    # ECR Public catalog architectures: ARM, ARM 64, x86, x86-64
    # (https://docs.aws.amazon.com/AmazonECR/latest/public/public-repository-catalog-data.html).
    table = {
        "linux/amd64": "x86-64",
        "linux/arm64": "ARM 64",
        "linux/arm": "ARM",
        "linux/386": "x86",
    }
    return {table[p] for p in platforms if p in table}


@dataclass(frozen=True)
class ImageMirrorArgs:
    release: Release
    image: Image
    registry: Registry
    repository: pulumi.Resource | None  # the tag waits for its repository (and its label)


class ImageMirror(pulumi.ComponentResource):
    """One release of one image in one registry: the release tag (never moved once published)."""

    tag: ImageTag

    def __init__(
        self, name: str, args: ImageMirrorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(IMAGE_TYPE, name, None, opts)
        a = args
        self.tag = ImageTag(
            naming.image_tag(a.registry, a.image, a.release.name),
            tag_args(
                a.registry,
                a.image,
                a.release,
                a.release.name,
                floating=False,
                published=not a.release.yanked,
            ),
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[a.repository] if a.repository is not None else None,
                retain_on_delete=True,
            ),
        )
        self.register_outputs({"digest": self.tag.digest})
