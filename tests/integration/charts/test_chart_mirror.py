"""Acceptance: an HTTP chart repository (two charts x two versions, built by the real `helm
package`) mirrored to two docker-registry servers through the real ChartTag provider server; the
real Helm client reads every chart version from every mirror; a yank removes every tag."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from artifact_mirrors import verify_images
from artifact_mirrors.charts.artifact import (
    CHART_MEDIA_TYPE,
    CONFIG_MEDIA_TYPE,
    PROV_MEDIA_TYPE,
    build,
)
from artifact_mirrors.charts.resolve import SpecPlace, resolve_http, resolve_oci
from artifact_mirrors.oci.client import Registries
from artifact_mirrors.oci.env import INSECURE_ENV
from artifact_mirrors.spec.load import load_spec
from artifact_mirrors.spec.model import ReleaseChart, Spec
from components.dynamic.chart_tag import ChartTagArgs, ChartTagProvider
from tests.integration.charts.conftest import CHARTS, PROV, ChartRepo
from tests.integration.charts.helm import Helm, HelmError
from tests.integration.charts.specs import project as release_project
from tests.integration.charts.specs import write_spec
from tests.integration.oci.servers import RegistryServer
from tests.providers.harness import ProviderError, ProviderServer, provider_server, urn

TYPE = "pulumi-python:dynamic/artifact-mirrors:ChartTag"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(scope="module")
def spec(
    tmp_path_factory: pytest.TempPathFactory, chart_repo: ChartRepo, mirrors: list[RegistryServer]
) -> Spec:
    loaded = load_spec(write_spec(tmp_path_factory.mktemp("proj"), chart_repo.url, mirrors))
    assert loaded is not None
    return loaded


@pytest.fixture(scope="module")
def pins(spec: Spec) -> dict[tuple[str, str], ReleaseChart]:
    return {
        (name, version): resolve_http(spec.charts[name], version, SpecPlace(spec.file, i))
        for i, name in enumerate(spec.charts)
        for version in CHARTS[name]
    }


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with provider_server() as running:
        yield running


def args(spec: Spec, pin: ReleaseChart, reg: str, **kw: Any) -> dict[str, Any]:
    registry = spec.registries[reg]
    chart = spec.charts[pin.name]
    a = ChartTagArgs(
        registry=reg,
        release=pin.version,
        chart=pin.name,
        repository=registry.repository(chart.repository),
        tag=pin.tag,
        digest=pin.digest,
        published=True,
        registry_kind=registry.kind,
        url=pin.url,
        sha256=pin.sha256,
        prov_url=pin.prov_url,
        prov_sha256=pin.prov_sha256,
        created=pin.created,
        insecure=registry.insecure,
        credentials=registry.credentials.names(),
    )
    return {**a.props(), **kw}


def manifest(m: RegistryServer, repo: str, ref: str) -> httpx.Response:
    return httpx.get(f"{m.url}/v2/{repo}/manifests/{ref}", headers={"Accept": OCI_MANIFEST})


def blob(m: RegistryServer, repo: str, digest: str) -> bytes:
    resp = httpx.get(f"{m.url}/v2/{repo}/blobs/{digest}", follow_redirects=True)
    resp.raise_for_status()
    return resp.content


def test_two_charts_two_versions_two_mirrors_read_back_by_real_helm(
    server: ProviderServer,
    spec: Spec,
    pins: dict[tuple[str, str], ReleaseChart],
    chart_repo: ChartRepo,
    mirrors: list[RegistryServer],
    helm: Helm,
    reference_registry: RegistryServer,
) -> None:
    drv = server.driver(ChartTagProvider())
    created: dict[tuple[str, str, str], Any] = {}
    chart_repo.hits.clear()
    for (name, version), pin in pins.items():
        for reg in spec.registries:
            res = urn(f"{reg}/charts/{name}:{version}", TYPE)
            props = args(spec, pin, reg)
            created[(name, version, reg)] = (
                res,
                props,
                drv.create(res, drv.check(res, None, props).inputs),
            )
    # One read of each .tgz (and .prov) for both mirrors: the copy session's memo.
    assert {p: n for p, n in chart_repo.hits.items() if p.endswith((".tgz", ".prov"))} == {
        f"/charts/{n}-{v}.tgz": 1 for n, vs in CHARTS.items() for v in vs
    } | {"/charts/beta-1.0.0.tgz.prov": 1}

    for (name, version), pin in pins.items():
        tgz = chart_repo.files[f"{name}-{version}"].read_bytes()
        repo = f"mirror/charts/{name}"
        digests = set()
        for m in mirrors:
            resp = manifest(m, repo, version)
            assert resp.status_code == 200, resp.text
            digests.add(resp.headers["Docker-Content-Digest"])
            doc = resp.json()
            assert doc["config"]["mediaType"] == CONFIG_MEDIA_TYPE
            layers = {d["mediaType"]: d for d in doc["layers"]}
            # The chart layer is the source .tgz, byte for byte.
            assert blob(m, repo, layers[CHART_MEDIA_TYPE]["digest"]) == tgz
            if (name, version) == ("beta", "1.0.0"):
                assert blob(m, repo, layers[PROV_MEDIA_TYPE]["digest"]) == PROV
            else:
                assert PROV_MEDIA_TYPE not in layers
            # The real Helm client pulls it through its registry client and reads Chart.yaml.
            shown = helm.show(f"oci://{m.host}/{repo}:{version}")
            assert f"name: {name}" in shown.splitlines()
            assert f"version: {version}" in shown.splitlines()
        # One manifest digest per chart version, at every mirror: the one pinned before pushing.
        assert digests == {pin.digest}

    # The reference: what `helm push` itself writes for the same .tgz. Same config and layers;
    # the whole manifest too once its push-time created annotation is the one we use.
    name, version = "alpha", "1.0.0"
    tgz_path = chart_repo.files[f"{name}-{version}"]
    helm.push(tgz_path, f"oci://{reference_registry.host}/ref")
    theirs = manifest(reference_registry, f"ref/{name}", version)
    ours = manifest(mirrors[0], f"mirror/charts/{name}", version)
    assert theirs.json()["config"] == ours.json()["config"]
    assert theirs.json()["layers"] == ours.json()["layers"]
    cfg = theirs.json()["config"]["digest"]
    assert blob(reference_registry, f"ref/{name}", cfg) == blob(
        mirrors[0], f"mirror/charts/{name}", cfg
    )
    their_time = theirs.json()["annotations"]["org.opencontainers.image.created"]
    assert build(tgz_path.read_bytes(), None, their_time).manifest == theirs.content
    assert {k: v for k, v in ours.json()["annotations"].items() if not k.endswith(".created")} == {
        k: v for k, v in theirs.json()["annotations"].items() if not k.endswith(".created")
    }

    # Nothing changed: no diff. Deleted behind our back: the next preview shows an update.
    res, props, out = created[("alpha", "1.1.0", "m1")]
    assert drv.diff(out.id, res, out.outputs, props).changes.value == "none"
    pin = pins[("alpha", "1.1.0")]
    httpx.delete(
        f"{mirrors[1].url}/v2/mirror/charts/alpha/manifests/{pin.digest}"
    ).raise_for_status()
    assert drv.diff(out.id, res, out.outputs, props).changes.value == "some"
    drv.update(out.id, res, out.outputs, props)
    assert (
        manifest(mirrors[1], "mirror/charts/alpha", "1.1.0").headers["Docker-Content-Digest"]
        == pin.digest
    )

    # A release tag never moves: another digest under alpha:1.0.0 is refused, the tag stays.
    newer = pins[("alpha", "1.1.0")]
    other = args(
        spec,
        pins[("alpha", "1.0.0")],
        "m0",
        url=newer.url,
        sha256=newer.sha256,
        digest=newer.digest,
    )
    with pytest.raises(ProviderError) as err:
        drv.create(urn("m0/charts/alpha:1.0.0-again", TYPE), other)
    assert f"{mirrors[0].host}/mirror/charts/alpha:1.0.0: tag " in str(err.value)
    assert "refusing to move it" in str(err.value)

    # Yank: every chart version's tag goes from every mirror; Helm can no longer read it.
    for res, props, out in created.values():
        yanked = {**props, "published": False}
        assert drv.diff(out.id, res, out.outputs, yanked).changes.value == "some"
        drv.update(out.id, res, out.outputs, yanked)
    for name, versions in CHARTS.items():
        for version in versions:
            for m in mirrors:
                assert manifest(m, f"mirror/charts/{name}", version).status_code == 404
    with pytest.raises(HelmError):
        helm.show(f"oci://{mirrors[0].host}/mirror/charts/alpha:1.0.0")


def test_the_pins_name_the_index_digest_and_the_provenance(
    pins: dict[tuple[str, str], ReleaseChart], chart_repo: ChartRepo
) -> None:
    beta = pins[("beta", "1.0.0")]
    assert beta.url == f"{chart_repo.url}/charts/beta-1.0.0.tgz"
    assert beta.prov_url == f"{chart_repo.url}/charts/beta-1.0.0.tgz.prov"
    index = (chart_repo.root / "index.yaml").read_text()
    assert f"digest: {beta.sha256}" in index
    assert pins[("alpha", "1.0.0")].prov_url is None
    assert beta.created == "2026-11-30T12:34:56.123456789Z"
    # Four chart versions, four distinct artifacts.
    assert len({p.digest for p in pins.values()}) == 4
    assert json.dumps(sorted(pins)) == json.dumps(
        sorted((n, v) for n, vs in CHARTS.items() for v in vs)
    )


def test_verify_checks_every_chart_tag_of_the_outputs(
    server: ProviderServer,
    spec: Spec,
    pins: dict[tuple[str, str], ReleaseChart],
    mirrors: list[RegistryServer],
) -> None:
    drv = server.driver(ChartTagProvider())
    pin = pins[("beta", "1.1.0")]
    charts: dict[str, str] = {}
    for reg in spec.registries:
        props = args(spec, pin, reg)
        drv.create(urn(f"{reg}/charts/beta:1.1.0-verify", TYPE), props)
        charts[f"{props['repository']}:{pin.tag}"] = pin.digest
    outputs = {"releases": {"1.1.0": {"yanked": False, "images": {}, "charts": charts}}}
    project = release_project(spec, pin)
    tags, notes = verify_images.image_expectations(project, outputs, "outputs")
    assert (len(tags), notes) == (2, [])
    with verify_images.RegistryPool(project) as pool:
        assert verify_images.verify_image_tags(tags, pool, deep=True) == []
        httpx.delete(f"{mirrors[0].url}/v2/mirror/charts/beta/manifests/{pin.digest}")
        (finding,) = verify_images.verify_image_tags(tags, pool)
    assert (finding.kind, finding.key, finding.region, finding.image_id, finding.actual) == (
        "chart",
        "beta",
        "m0",
        f"{mirrors[0].host}/mirror/charts/beta:1.1.0",
        "missing",
    )


def test_an_oci_source_is_copied_by_digest_and_read_back_by_helm(
    tmp_path_factory: pytest.TempPathFactory,
    chart_repo: ChartRepo,
    mirrors: list[RegistryServer],
    helm: Helm,
    reference_registry: RegistryServer,
) -> None:
    # The source: a chart `helm push` put into an OCI registry (push-time digest, kept as is).
    helm.push(chart_repo.files["beta-1.1.0"], f"oci://{reference_registry.host}/upstream")
    source = manifest(reference_registry, "upstream/beta", "1.1.0")
    root = tmp_path_factory.mktemp("oci-source")
    spec_file = write_spec(root, chart_repo.url, mirrors)
    text = spec_file.read_text()
    spec_file.write_text(
        text.split("charts:\n", 1)[0]
        + f"charts:\n  - name: beta\n    source: {{oci: {reference_registry.host}/upstream/beta}}\n"
        + "    repository: oci/beta\n"
    )
    loaded = load_spec(spec_file)
    assert loaded is not None
    with Registries(insecure=[reference_registry.host]) as regs:
        pin = resolve_oci(loaded.charts["beta"], "1.1.0", SpecPlace(spec_file, 0), regs)
    assert pin.digest == source.headers["Docker-Content-Digest"]
    env = {INSECURE_ENV: reference_registry.host}
    with provider_server(env) as oci_server:
        drv = oci_server.driver(ChartTagProvider())
        for reg, m in zip(loaded.registries, mirrors, strict=True):
            registry = loaded.registries[reg]
            props = ChartTagArgs(
                registry=reg,
                release="1.1.0",
                chart="beta",
                repository=registry.repository("oci/beta"),
                tag="1.1.0",
                digest=pin.digest,
                published=True,
                registry_kind="oci",
                source=f"{reference_registry.host}/upstream/beta@{pin.digest}",
                insecure=True,
            ).props()
            drv.create(urn(f"{reg}/charts/beta:1.1.0-oci", TYPE), props)
            mirrored = manifest(m, "mirror/oci/beta", "1.1.0")
            assert mirrored.content == source.content  # the source's bytes, by digest
            assert "name: beta" in helm.show(f"oci://{m.host}/mirror/oci/beta:1.1.0").splitlines()

    # verify --deep of a chart copied from OCI: no .tgz pin, but every blob is read and hashed.
    charts = {f"{m.host}/mirror/oci/beta:1.1.0": pin.digest for m in mirrors}
    outputs = {"releases": {"1.1.0": {"yanked": False, "charts": charts}}}
    project = release_project(loaded, pin)
    tags, _ = verify_images.image_expectations(project, outputs, "outputs")
    with verify_images.RegistryPool(project) as pool:
        assert verify_images.verify_image_tags(tags, pool, deep=True) == []
        config = json.loads(source.content)["config"]["digest"]
        httpx.delete(f"{mirrors[1].url}/v2/mirror/oci/beta/blobs/{config}").raise_for_status()
        (finding,) = verify_images.verify_image_tags(tags, pool, deep=True)
    assert (finding.region, finding.image_id, finding.check, finding.expected, finding.actual) == (
        "m1",
        f"{mirrors[1].host}/mirror/oci/beta@{config}",
        "config",
        "blob present",
        "missing",
    )


def test_a_source_that_no_longer_matches_its_pins_pushes_nothing(
    server: ProviderServer,
    spec: Spec,
    pins: dict[tuple[str, str], ReleaseChart],
    chart_repo: ChartRepo,
    mirrors: list[RegistryServer],
) -> None:
    drv = server.driver(ChartTagProvider())
    pin = pins[("alpha", "1.0.0")]
    wrong = "f" * 64
    props = args(spec, pin, "m0", sha256=wrong, repository=f"{mirrors[0].host}/mirror/bad/alpha")
    with pytest.raises(ProviderError) as err:
        drv.create(urn("m0/bad/alpha:1.0.0", TYPE), props)
    assert str(err.value) == (
        f"{mirrors[0].host}/mirror/bad/alpha:1.0.0: {pin.url}: content hashes to "
        f"sha256:{pin.sha256}, pinned sha256:{wrong}"
    )
    # The pinned manifest digest is checked too: bytes that build another artifact are refused.
    other = args(
        spec,
        pin,
        "m0",
        digest="sha256:" + "e" * 64,
        repository=f"{mirrors[0].host}/mirror/bad/alpha",
    )
    with pytest.raises(ProviderError) as err:
        drv.create(urn("m0/bad/alpha:1.0.0-b", TYPE), other)
    assert str(err.value) == (
        f"{mirrors[0].host}/mirror/bad/alpha:1.0.0: {pin.url}: builds manifest {pin.digest}, "
        f"pinned sha256:{'e' * 64}"
    )
    assert httpx.get(f"{mirrors[0].url}/v2/mirror/bad/alpha/tags/list").status_code == 404
