"""A mirror spec for the chart tests: the local chart repository -> two local registries."""

from __future__ import annotations

import shutil
from pathlib import Path

import semver

from artifact_mirrors.spec.model import Project, Release, ReleaseChart, Spec
from tests.integration.oci.servers import RegistryServer

ROOT = Path(__file__).resolve().parents[3]


def write_spec(
    directory: Path, chart_url: str, mirrors: list[RegistryServer], namespace: str = "mirror"
) -> Path:
    """``directory/mirrors/destinations.yaml`` (+ templates, an empty releases/)."""
    mdir = directory / "mirrors"
    (mdir / "releases").mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "mirrors" / "templates", mdir / "templates", dirs_exist_ok=True)
    shutil.copy(ROOT / "Pulumi.yaml", directory / "Pulumi.yaml")
    regs = "".join(
        f"  - name: m{i}\n    kind: oci\n    host: {m.host}\n    namespace: {namespace}\n"
        "    insecure: true\n"
        for i, m in enumerate(mirrors)
    )
    names = ", ".join(f"m{i}" for i in range(len(mirrors)))
    spec = mdir / "destinations.yaml"
    spec.write_text(
        "version: 1\n"
        "labels:\n"
        "  image_description: templates/image-description.j2\n"
        "  image_full_description: templates/image-full-description.md.j2\n"
        "  ami_description: templates/ami-description.j2\n"
        "defaults:\n"
        "  chart:\n"
        f"    registries: [{names}]\n"
        "    repository: charts/{name}\n"
        "registries:\n"
        f"{regs}"
        "charts:\n"
        "  - name: alpha\n"
        f"    source: {{url: {chart_url}}}\n"
        "  - name: beta\n"
        "    source:\n"
        f"      url: {chart_url}\n"
        "      chart: beta\n",
        encoding="utf-8",
    )
    return spec


def project(spec: Spec, pin: ReleaseChart) -> Project:
    """The spec plus one release manifest pinning ``pin`` (what `mirrors verify` reads)."""
    release = Release(
        file=Path(f"mirrors/releases/{pin.version}.yaml"),
        version=semver.Version.parse(pin.version),
        channel="stable",
        yanked=False,
        reason=None,
        images={},
        amis=(),
        charts={pin.name: pin},
    )
    return Project(spec, (release,))
