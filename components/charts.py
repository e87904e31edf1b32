"""ChartMirror: one chart version in one registry, as the OCI artifact Helm pushes (ChartTag)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from artifact_mirrors import naming
from artifact_mirrors.spec.model import Chart, Registry, Release, ReleaseChart
from components.dynamic.chart_tag import ChartTag, ChartTagArgs

TYPE = f"{naming.TYPE_PREFIX}:ChartMirror"


def chart_tag_args(
    registry: Registry, chart: Chart, pin: ReleaseChart, release: Release
) -> ChartTagArgs:
    return ChartTagArgs(
        registry=registry.name,
        release=release.name,
        chart=chart.name,
        repository=registry.repository(chart.repository),
        tag=pin.tag,
        digest=pin.digest,
        published=not release.yanked,
        registry_kind=registry.kind,
        url=pin.url,
        sha256=pin.sha256,
        prov_url=pin.prov_url,
        prov_sha256=pin.prov_sha256,
        created=pin.created,
        source_ca_file=chart.ca_file,
        source=f"{chart.oci}@{pin.digest}" if chart.oci else None,
        insecure=registry.insecure,
        tls_verify=registry.tls_verify,
        ca_file=registry.ca_file,
        credentials=registry.credentials.names(),
    )


@dataclass(frozen=True)
class ChartMirrorArgs:
    release: Release
    chart: Chart
    registry: Registry
    repository: pulumi.Resource | None = None  # the tag waits for its repository when there is one


class ChartMirror(pulumi.ComponentResource):
    """The chart version's tag in one registry: never moved once published, deleted by a yank."""

    tag: ChartTag

    def __init__(
        self, name: str, args: ChartMirrorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        a = args
        pin = a.release.charts[a.chart.name]
        self.tag = ChartTag(
            naming.chart_tag(a.registry.name, a.chart.repository, pin.tag),
            chart_tag_args(a.registry, a.chart, pin, a.release),
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[a.repository] if a.repository is not None else None,
                retain_on_delete=True,
            ),
        )
        self.register_outputs({"digest": self.tag.digest})
