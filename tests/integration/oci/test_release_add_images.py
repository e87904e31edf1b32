"""`mirrors release add`, image half, against a real registry standing in for the first party."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_mirrors.cli import app
from artifact_mirrors.oci.env import INSECURE_ENV
from artifact_mirrors.spec.load import load_project
from tests.integration.oci.images import Pusher, SourceImages
from tests.integration.oci.servers import RegistryServer

SPEC = """\
version: 1
labels:
  image_description: templates/image-description.j2
  image_full_description: templates/image-full-description.md.j2
  ami_description: templates/ami-description.j2
registries:
  - {{name: local, kind: oci, host: 127.0.0.1:1, namespace: mirror, insecure: true}}
images:
  - name: app
    source: {source}
    registries: [local]
    platforms: [linux/amd64, linux/arm, linux/arm64]
"""


@pytest.fixture
def local_project(
    project: Path,
    src_registry: RegistryServer,
    source: SourceImages,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    (project / "mirrors/destinations.yaml").write_text(
        SPEC.format(source=f"{src_registry.host}/{source.repo}")
    )
    for manifest in (project / "mirrors/releases").glob("*.yaml"):
        manifest.unlink()
    monkeypatch.setenv(INSECURE_ENV, src_registry.host)
    return project


def test_pins_the_digest_and_platforms_the_tag_points_at(
    local_project: Path, source: SourceImages, src_pusher: Pusher
) -> None:
    raw, media_type = src_pusher.raw_manifest(source.repo, "1.0")
    src_pusher.manifest(source.repo, "17.0.1", raw, media_type)

    result = CliRunner().invoke(app, ["release", "add", "17.0.1"])
    assert result.exit_code == 0, result.stderr
    project = load_project(
        local_project / "mirrors/destinations.yaml", local_project / "mirrors/releases"
    )
    (release,) = project.releases
    pinned = release.images["app"]
    assert pinned.digest == source.index
    # The registry says linux/arm/v7; the spec's linux/arm covers its variants.
    assert sorted(pinned.platforms) == ["linux/amd64", "linux/arm/v7", "linux/arm64"]


def test_a_tag_that_was_never_published_is_one_line_exit_1(
    local_project: Path, src_registry: RegistryServer, source: SourceImages
) -> None:
    result = CliRunner().invoke(app, ["release", "add", "17.9.9"])
    assert result.exit_code == 1
    ref = f"{src_registry.host}/{source.repo}:17.9.9"
    assert result.stderr == (
        f"{ref}: tag not found (image app). Hint: check that release 17.9.9 was published to "
        f"{src_registry.host}/{source.repo}, or pin the digests with --from-json\n"
    )
    assert list((local_project / "mirrors/releases").glob("*.yaml")) == []
