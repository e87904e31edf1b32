"""`mirrors verify --deep` for Helm charts against two docker-registry mirrors: the manifest at
each mirror's tag is the pinned one, its content and provenance layers are the pinned .tgz and
.prov (served with bytes that hash to their digests), its config what the library builds; a
tampered mirror is reported per mirror, with exact messages."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from artifact_mirrors import verify_images
from artifact_mirrors.aws import findings_markdown
from artifact_mirrors.charts.artifact import CHART_MEDIA_TYPE, CONFIG_MEDIA_TYPE, PROV_MEDIA_TYPE
from artifact_mirrors.cli import app
from artifact_mirrors.spec.load import load_project
from artifact_mirrors.spec.model import Project, ReleaseChart, Spec
from components.dynamic.chart_tag import ChartTagProvider
from tests.integration.charts import test_chart_mirror as mirror_tests
from tests.integration.charts.conftest import ChartRepo
from tests.integration.charts.specs import project, write_spec
from tests.integration.charts.test_chart_mirror import OCI_MANIFEST, TYPE, args, manifest
from tests.integration.oci.servers import RegistryServer
from tests.providers.harness import ProviderServer, urn

# The fixtures of the mirror tests (a chart repository, two mirrors, the pins), for this module.
spec = mirror_tests.spec
pins = mirror_tests.pins
server = mirror_tests.server

HEADER = [
    "",
    "| severity | kind | release | key | where | mirror | check | expected | actual |",
    "|---|---|---|---|---|---|---|---|---|",
]
REPO = "mirror/charts/beta"


def verify(project: Project, outputs: dict[str, object]) -> list[str]:
    tags, notes = verify_images.image_expectations(project, outputs, "outputs")
    assert notes == []
    with verify_images.RegistryPool(project) as pool:
        findings = verify_images.verify_image_tags(tags, pool, deep=True)
    return findings_markdown(findings, None, len(tags)).splitlines()


def layers(m: RegistryServer, digest: str, repo: str = REPO) -> dict[str, str]:
    doc = manifest(m, repo, digest).json()
    out = {d["mediaType"]: d["digest"] for d in doc["layers"]}
    return {**out, doc["config"]["mediaType"]: doc["config"]["digest"]}


def blob_file(m: RegistryServer, digest: str) -> Path:
    hex_ = digest.removeprefix("sha256:")
    return m.root / "data/docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"


def test_deep_verify_checks_every_blob_at_every_mirror(
    server: ProviderServer,
    spec: Spec,
    pins: dict[tuple[str, str], ReleaseChart],
    mirrors: list[RegistryServer],
) -> None:
    drv = server.driver(ChartTagProvider())
    pin = pins[("beta", "1.0.0")]  # the version with a .prov
    assert pin.prov_sha256 is not None
    charts: dict[str, str] = {}
    for reg in spec.registries:
        props = args(spec, pin, reg)
        drv.create(urn(f"{reg}/charts/beta:1.0.0-deep", TYPE), props)
        charts[f"{props['repository']}:{pin.tag}"] = pin.digest
    outputs: dict[str, object] = {"releases": {"1.0.0": {"yanked": False, "charts": charts}}}
    m0, m1 = (f"{m.host}/{REPO}" for m in mirrors)

    assert verify(project(spec, pin), outputs) == ["**2 image tags verified: no drift**"]
    # No release manifest pins the chart (deleted by hand): nothing to compare with.
    assert verify(Project(spec), outputs) == [
        "**2 image tags verified: 0 error(s), 2 warning(s)**",
        *HEADER,
        *(
            f"| warning | chart | 1.0.0 | beta | {reg} | {mirror}:1.0.0 | manifest"
            " | the release manifest's pin | release 1.0.0 pins no chart beta: not compared |"
            for mirror, reg in ((m0, "m0"), (m1, "m1"))
        ),
    ]

    # A release manifest whose pin disagrees with what was mirrored (edited by hand): every
    # mirror reports the layer against the pin.
    edited = dataclasses.replace(pin, sha256="0" * 64, prov_sha256="1" * 64)
    blobs = layers(mirrors[0], pin.digest)
    content, prov = blobs[CHART_MEDIA_TYPE], blobs[PROV_MEDIA_TYPE]
    assert content == f"sha256:{pin.sha256}"
    assert prov == f"sha256:{pin.prov_sha256}"
    assert verify(project(spec, edited), outputs) == [
        "**2 image tags verified: 4 error(s), 0 warning(s)**",
        *HEADER,
        *(
            row
            for mirror, reg in ((m0, "m0"), (m1, "m1"))
            for row in (
                f"| error | chart | 1.0.0 | beta | {reg} | {mirror}@{content} | content"
                f" | sha256:{'0' * 64} (pinned) | layer {content} |",
                f"| error | chart | 1.0.0 | beta | {reg} | {mirror}@{prov} | provenance"
                f" | sha256:{'1' * 64} (pinned) | layer {prov} |",
            )
        ),
    ]

    # A manifest pin other than what the stack pushed (a re-pin by hand): the tag check follows
    # the outputs, --deep the pin.
    other = "sha256:" + "e" * 64
    assert verify(project(spec, dataclasses.replace(pin, digest=other)), outputs) == [
        "**2 image tags verified: 2 error(s), 0 warning(s)**",
        *HEADER,
        *(
            f"| error | chart | 1.0.0 | beta | {reg} | {mirror}:1.0.0 | manifest"
            f" | {other} (pinned) | {pin.digest} at the tag |"
            for mirror, reg in ((m0, "m0"), (m1, "m1"))
        ),
    ]

    # Mirror m1 tampered with: the .prov blob deleted, the .tgz's bytes rotted on disk (same
    # length, one byte flipped); m0 still clean.
    httpx.delete(f"{mirrors[1].url}/v2/{REPO}/blobs/{prov}").raise_for_status()
    data = bytearray(blob_file(mirrors[1], content).read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob_file(mirrors[1], content).write_bytes(bytes(data))
    rotted = "sha256:" + hashlib.sha256(data).hexdigest()
    assert verify(project(spec, pin), outputs) == [
        "**2 image tags verified: 2 error(s), 0 warning(s)**",
        *HEADER,
        f"| error | chart | 1.0.0 | beta | m1 | {m1}@{content} | content | {content}"
        f" | content hashes to {rotted} |",
        f"| error | chart | 1.0.0 | beta | m1 | {m1}@{prov} | provenance | blob present"
        " | missing |",
    ]
    assert CONFIG_MEDIA_TYPE in blobs
    # The registry stores a blob once for all its repositories: heal it for the next tests.
    data[len(data) // 2] ^= 0xFF
    blob_file(mirrors[1], content).write_bytes(bytes(data))


def test_a_tag_re_pointed_to_another_chart_version_is_drift(
    server: ProviderServer,
    spec: Spec,
    pins: dict[tuple[str, str], ReleaseChart],
    mirrors: list[RegistryServer],
) -> None:
    drv = server.driver(ChartTagProvider())
    pin, other = pins[("beta", "1.1.0")], pins[("beta", "1.0.0")]
    charts: dict[str, str] = {}
    for reg in spec.registries:
        props = args(spec, pin, reg)
        drv.create(urn(f"{reg}/charts/beta:1.1.0-repoint", TYPE), props)
        charts[f"{props['repository']}:{pin.tag}"] = pin.digest
    outputs: dict[str, object] = {"releases": {"1.1.0": {"yanked": False, "charts": charts}}}
    # 1.1.0's tag at m0 re-pointed to the 1.0.0 artifact (a `helm push --force` gone wrong).
    drv.create(urn("m0/charts/beta:1.0.0-other", TYPE), args(spec, other, "m0"))
    old = manifest(mirrors[0], REPO, other.digest)
    httpx.put(
        f"{mirrors[0].url}/v2/{REPO}/manifests/1.1.0",
        content=old.content,
        headers={"Content-Type": OCI_MANIFEST},
    ).raise_for_status()

    assert verify(project(spec, pin), outputs) == [
        "**2 image tags verified: 1 error(s), 0 warning(s)**",
        *HEADER,
        f"| error | chart | 1.1.0 | beta | m0 | {mirrors[0].host}/{REPO}:1.1.0 | tag"
        f" | {pin.digest} | moved to {other.digest} |",
    ]


@pytest.fixture
def project_dir(project: Path) -> Path:
    """A copy of the repository's project (stacks/, Pulumi.yaml), cwd set to it."""
    return project


def cli(*argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(argv))
    return result.exit_code, result.stdout, result.stderr


def test_an_archived_release_s_chart_tags_are_verified_from_the_archive(
    project_dir: Path,
    server: ProviderServer,
    chart_repo: ChartRepo,
    mirrors: list[RegistryServer],
) -> None:
    """1.0.0 leaves the window: `mirrors archive` keeps its chart tags, the update forgets them,
    `mirrors verify` (and --deep, against the manifest's pins) still checks them."""
    # A namespace of its own: the tests above tampered with mirror/charts/beta.
    spec_file = write_spec(project_dir, chart_repo.url, mirrors, namespace="archived")
    repo = "archived/charts/beta"
    for shipped in (project_dir / "mirrors/releases").glob("*.yaml"):
        shipped.unlink()
    for version in ("1.0.0", "1.1.0"):
        assert cli("release", "add", version)[0] == 0
    proj = load_project(spec_file, project_dir / "mirrors/releases")
    drv = server.driver(ChartTagProvider())
    outputs: dict[str, dict[str, object]] = {"releases": {}}
    for release in proj.releases:
        charts: dict[str, str] = {}
        for pin in release.charts.values():
            for reg in proj.spec.registries:
                props = args(proj.spec, pin, reg)
                drv.create(urn(f"{reg}/charts/{pin.name}:{pin.version}-archive", TYPE), props)
                charts[f"{props['repository']}:{pin.tag}"] = pin.digest
        outputs["releases"][release.name] = {
            "channel": "stable",
            "yanked": False,
            "reason": None,
            "charts": charts,
        }
    (project_dir / "outputs.json").write_text(json.dumps(outputs), encoding="utf-8")
    with spec_file.open("a", encoding="utf-8") as fh:
        fh.write("window: {majors: 1, patches: 1}\n")  # keeps 1.1.0, retires 1.0.0

    assert cli("archive", "--stack", "prod", "--outputs", "outputs.json") == (
        0,
        "archived 1.0.0 -> mirrors/archive/1.0.0.yaml\n"
        "1 releases outside the window, 1 archive records written\n",
        "",
    )
    old = proj.releases[0].charts["beta"]
    record = (project_dir / "mirrors/archive/1.0.0.yaml").read_text(encoding="utf-8")
    for m in mirrors:
        assert f"\n    {m.host}/{repo}:1.0.0: {old.digest}\n" in record
    del outputs["releases"]["1.0.0"]  # `pulumi up` forgot it
    (project_dir / "outputs.json").write_text(json.dumps(outputs), encoding="utf-8")

    verify_args = ("verify", "--stack", "prod", "--outputs", "outputs.json", "--images-only")
    for deep in ((), ("--deep",)):
        assert cli(*verify_args, "-f", "markdown", *deep) == (
            0,
            "**8 image tags verified: no drift**\n",
            "",
        )

    # The archived release's .prov blob gone at m1: only --deep sees it; its tag gone at m0:
    # both see it, though the stack no longer records the release.
    prov = layers(mirrors[1], old.digest, repo)[PROV_MEDIA_TYPE]
    httpx.delete(f"{mirrors[1].url}/v2/{repo}/blobs/{prov}").raise_for_status()
    httpx.delete(f"{mirrors[0].url}/v2/{repo}/manifests/{old.digest}").raise_for_status()
    missing = (
        f"| error | chart | 1.0.0 | beta | m0 | {mirrors[0].host}/{repo}:1.0.0 | tag"
        f" | {old.digest} | missing |"
    )
    assert cli(*verify_args, "-f", "markdown") == (
        1,
        "\n".join(["**8 image tags verified: 1 error(s), 0 warning(s)**", *HEADER, missing]) + "\n",
        "",
    )
    assert cli(*verify_args, "-f", "markdown", "--deep") == (
        1,
        "\n".join(
            [
                "**8 image tags verified: 2 error(s), 0 warning(s)**",
                *HEADER,
                missing,
                f"| error | chart | 1.0.0 | beta | m1 | {mirrors[1].host}/{repo}@{prov}"
                " | provenance | blob present | missing |",
            ]
        )
        + "\n",
        "",
    )
