"""Which part of the spec a stack mirrors: everything, the commercial side, or GovCloud only.

Why split: the engine serves every dynamic resource of a stack from one provider process with 4
worker threads (``grpc.server(ThreadPoolExecutor(max_workers=4))`` in
``pulumi/dynamic/__main__.py``), and an ``AmiTransfer`` (store -> S3 -> restore) holds one for
tens of minutes. With GovCloud in the same stack, four transfers stop every image copy of the
release until one ends. So the shipped spec runs as two stacks, two `pulumi up`s (two CI jobs):

- ``commercial`` (stack ``prod``): image tags, repositories, floating tags, the ``aws`` partition;
- ``govcloud`` (stack ``prod-govcloud``): the ``aws-us-gov`` partition only. Its transfers start
  from the commercial mirror copies, read from the commercial stack's ``releases`` output through
  a ``pulumi.StackReference`` (https://www.pulumi.com/docs/iac/concepts/stacks/#stackreferences),
  so it runs after ``prod`` and never blocks it.

``all`` (the default) keeps one stack for everything, for specs without GovCloud.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pulumi

from artifact_mirrors import naming
from artifact_mirrors.regions import Partition
from artifact_mirrors.spec.model import PartitionTarget, Project

SCOPES: dict[str, tuple[Partition, ...]] = {
    "all": ("aws", "aws-us-gov"),
    "commercial": ("aws",),
    "govcloud": ("aws-us-gov",),
}


class ScopeError(ValueError):
    """A stack config value the program cannot run with (one line, shown without traceback)."""


@dataclass(frozen=True)
class Scope:
    name: str
    commercial_stack: str | None = None  # govcloud: the stack whose outputs hold the sources

    @property
    def images(self) -> bool:
        return self.name != "govcloud"

    @property
    def partitions(self) -> tuple[Partition, ...]:
        return SCOPES[self.name]


def scope_from_config(config: pulumi.Config) -> Scope:
    name = config.get("scope") or "all"
    if name not in SCOPES:
        raise ScopeError(
            f"stack config {naming.PROJECT}:scope: unknown scope (got {name}). Hint: use one of "
            f"{', '.join(SCOPES)} (see 'Stacks' in README.md)"
        )
    stack = config.get("commercialStack")
    if name == "govcloud" and not stack:
        raise ScopeError(
            f"stack config {naming.PROJECT}:commercialStack: required with scope govcloud (got "
            "nothing). Hint: name the commercial stack whose mirror copies GovCloud starts "
            f"from, e.g. pulumi config set {naming.PROJECT}:commercialStack ORG/"
            f"{naming.PROJECT}/prod"
        )
    return Scope(name, stack if name == "govcloud" else None)


def scoped(project: Project, scope: Scope) -> Project:
    """The project as this stack sees it: partitions outside the scope (and, for GovCloud,
    images and registries) left out."""
    if scope.name == "all":
        return project
    spec = project.spec
    amis = spec.amis
    if amis is not None:
        amis = replace(
            amis, partitions={p: t for p, t in amis.partitions.items() if p in scope.partitions}
        )
    if scope.images:
        return replace(project, spec=replace(spec, amis=amis))
    # Terraform provider mirrors are commercial S3 sites, and Helm charts go to the image
    # registries: the commercial stack's, like images.
    return replace(
        project,
        spec=replace(spec, amis=amis, registries={}, images={}, terraform_providers={}, charts={}),
        releases=tuple(
            replace(r, images={}, terraform_providers={}, charts={}) for r in project.releases
        ),
    )


class CommercialMirrors:
    """Commercial mirror copies of another stack (the GovCloud transfers' sources)."""

    def __init__(self, stack: str, aws: PartitionTarget | None, *, offline: bool) -> None:
        """``aws``: the spec's commercial partition (its profile reads the copy and the source
        bucket; its encryption settings name the copy)."""
        self.stack = stack
        self.aws = aws
        self.profile = aws.profile if aws else None
        self.offline = offline
        self.ref = pulumi.StackReference(naming.commercial_stack(), stack_name=stack)

    def name(self, base: str, region: str) -> str:
        """The AMI name the commercial stack gave its copy in ``region``."""
        if self.aws is None:
            return base
        return naming.ami_copy_name(base, self.aws.encrypted, self.aws.kms_keys.get(region))

    def image_id(self, version: str, key: str, region: str) -> pulumi.Output[str]:
        wanted = f"aws/{region}/{key}"
        if self.offline:
            # `mirrors plan` has no other stack to read: name where the id will come from.
            return pulumi.Output.from_input(f"{self.stack}:releases.{version}.amis.{wanted}")

        def pick(releases: Any) -> str:
            found = ((releases or {}).get(version) or {}).get("amis", {}).get(wanted)
            if not found:
                raise pulumi.RunError(
                    f"stack {self.stack} has no commercial mirror of {key} in {region} for "
                    f"release {version} (output releases.{version}.amis.{wanted}). Hint: run "
                    f"`pulumi up` on {self.stack} first; GovCloud starts from its copies"
                )
            return str(found)

        return self.ref.get_output("releases").apply(pick)
