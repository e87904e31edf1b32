"""ReleaseMirror: everything one release adds to the mirrors, as one component."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from artifact_mirrors import labels, naming
from artifact_mirrors.mirror_tags import mirror_tags
from artifact_mirrors.regions import Partition
from artifact_mirrors.spec.model import Release, Spec
from components.amis import AmiMirror, AmiMirrorArgs
from components.aws_partition import AwsProviders
from components.charts import ChartMirror, ChartMirrorArgs
from components.images import ImageMirror, ImageMirrorArgs, RegistryMirror
from components.scope import CommercialMirrors
from components.terraform import (
    TerraformProviderMirror,
    TerraformVersionMirror,
    TerraformVersionMirrorArgs,
)

TYPE = f"{naming.TYPE_PREFIX}:ReleaseMirror"

# Commercial first: GovCloud's transfer starts from the commercial mirror copy.
PARTITION_ORDER: tuple[Partition, ...] = ("aws", "aws-us-gov")


@dataclass(frozen=True)
class ReleaseMirrorArgs:
    release: Release
    spec: Spec
    registries: dict[str, RegistryMirror]  # repositories the release's tags wait for
    providers: AwsProviders
    # A GovCloud-scoped stack: the commercial copies live in another stack (components.scope).
    commercial: CommercialMirrors | None = None
    # Terraform provider name -> its mirror (components.terraform).
    terraform: dict[str, TerraformProviderMirror] = field(default_factory=dict)
    # The release's archive record (artifact_mirrors/archive.py) when it left the window once:
    # its AMI copies exist, so they are read by id, not copied again.
    archived: Mapping[str, Any] | None = None


class ReleaseMirror(pulumi.ComponentResource):
    image_tags: dict[str, ImageMirror]
    amis: dict[str, AmiMirror]
    terraform: dict[str, TerraformVersionMirror]
    charts: dict[str, ChartMirror]
    audit: dict[str, Any]

    def __init__(
        self, name: str, args: ReleaseMirrorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        release, spec = args.release, args.spec
        version = release.name
        self.image_tags = {}
        for image_name in release.images:
            image = spec.images[image_name]
            for reg_name in image.registries:
                reg = spec.registries[reg_name]
                repository = args.registries[reg_name].repositories.get(image_name)
                mirror = ImageMirror(
                    naming.image_mirror(version, image_name, reg_name),
                    ImageMirrorArgs(release, image, reg, repository),
                    pulumi.ResourceOptions(parent=self),
                )
                self.image_tags[f"{reg.repository(image.repository)}:{version}"] = mirror

        self.amis = {}
        ami_spec = spec.amis
        for ami in release.amis if ami_spec else ():
            assert ami_spec is not None
            tags = mirror_tags(release, ami, ami_spec.tags)
            for partition_name in PARTITION_ORDER:
                target = ami_spec.partitions.get(partition_name)
                if target is None:
                    continue
                transfer_source = None
                transfer_profile = None
                transfer_name = None
                if target.transfer is not None:
                    source_region = target.transfer.source_bucket.region
                    if args.commercial is not None:
                        transfer_source = args.commercial.image_id(version, ami.key, source_region)
                        transfer_profile = args.commercial.profile
                        transfer_name = args.commercial.name(ami.name, source_region)
                    else:
                        commercial = self.amis[f"{ami.key}@aws"]
                        transfer_source = commercial.image_ids[source_region]
                        transfer_profile = ami_spec.partitions["aws"].profile
                        transfer_name = commercial.names[source_region]
                archived_ids = _archived_amis(args.archived, partition_name, ami.key)
                self.amis[f"{ami.key}@{partition_name}"] = AmiMirror(
                    naming.ami_mirror(version, ami.key, partition_name),
                    AmiMirrorArgs(
                        release=release,
                        ami=ami,
                        target=target,
                        description=labels.ami_description(
                            spec.labels, version, release.channel, ami, partition_name
                        ),
                        tags=tags,
                        partition=args.providers.partition(partition_name),
                        transfer_source=transfer_source,
                        transfer_source_profile=transfer_profile,
                        transfer_source_name=transfer_name,
                        archived_ids=archived_ids,
                    ),
                    pulumi.ResourceOptions(parent=self),
                )

        self.terraform = {
            name: TerraformVersionMirror(
                naming.terraform_version(version, name),
                TerraformVersionMirrorArgs(release, args.terraform[name]),
                pulumi.ResourceOptions(parent=self),
            )
            for name in release.terraform_providers
            if name in args.terraform
        }

        # Helm charts: one OCI artifact per chart version, the same digest at every registry.
        self.charts = {}
        for chart_name, pin in release.charts.items():
            chart = spec.charts.get(chart_name)
            if chart is None:
                continue
            for reg_name in chart.registries:
                reg = spec.registries[reg_name]
                self.charts[f"{reg.repository(chart.repository)}:{pin.tag}"] = ChartMirror(
                    naming.chart_mirror(version, chart_name, reg_name),
                    ChartMirrorArgs(
                        release,
                        chart,
                        reg,
                        args.registries[reg_name].chart_repositories.get(chart_name),
                    ),
                    pulumi.ResourceOptions(parent=self),
                )

        self.audit = {
            "channel": release.channel,
            "yanked": release.yanked,
            "reason": release.reason,
            "images": {ref: m.tag.digest for ref, m in self.image_tags.items()},
            "amis": {
                f"{key.split('@')[1]}/{region}/{key.split('@')[0]}": image_id
                for key, m in self.amis.items()
                for region, image_id in m.image_ids.items()
            },
            # "PROVIDER@DESTINATION" -> S3 key -> sha256 of the object.
            "terraform_providers": {
                naming.terraform_destination(name, dest): objects
                for name, m in self.terraform.items()
                for dest, objects in m.audit.items()
            },
        }
        if self.charts:
            # "REPOSITORY:TAG" -> manifest digest, like images.
            self.audit["charts"] = {ref: m.tag.digest for ref, m in self.charts.items()}
        self.register_outputs(self.audit)


def _archived_amis(record: Mapping[str, Any] | None, partition: str, key: str) -> dict[str, str]:
    """region -> AMI id of one source AMI's copies in ``partition``, from an archive record.

    The record's ``amis`` is the ``releases`` output entry: ``PARTITION/REGION/EDITION`` -> id.
    """
    if record is None or not isinstance(record.get("amis"), Mapping):
        return {}
    out: dict[str, str] = {}
    for name, image_id in record["amis"].items():
        parts = str(name).split("/")
        if len(parts) == 3 and parts[0] == partition and parts[2] == key and image_id:
            out[parts[1]] = str(image_id)
    return out
