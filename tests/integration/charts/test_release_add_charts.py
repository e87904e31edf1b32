"""`mirrors release add` pins charts from index.yaml; each bad input is one located line, exit 1,
and no manifest is written (so nothing can be pushed)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_mirrors.charts.artifact import build
from artifact_mirrors.cli import app
from artifact_mirrors.spec.load import load_project
from tests.integration.charts.conftest import PROV, ChartRepo
from tests.integration.charts.specs import write_spec
from tests.integration.oci.servers import RegistryServer, free_port

SPEC = Path("mirrors/destinations.yaml")


@pytest.fixture
def proj(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chart_repo: ChartRepo,
    mirrors: list[RegistryServer],
) -> Iterator[Path]:
    write_spec(tmp_path, chart_repo.url, mirrors)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    chart_repo.default_index()


def add(version: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["release", "add", version])
    return result.exit_code, result.stdout, result.stderr


def line_of(text: str) -> int:
    return SPEC.read_text().splitlines().index(text) + 1


def test_pins_every_chart_with_the_index_digest_and_the_manifest_digest(
    proj: Path, chart_repo: ChartRepo
) -> None:
    code, out, err = add("1.0.0")
    assert (code, err) == (0, "")
    project = load_project(SPEC, Path("mirrors/releases"))
    (release,) = project.releases
    alpha, beta = release.charts["alpha"], release.charts["beta"]
    tgz = chart_repo.files["alpha-1.0.0"].read_bytes()
    assert alpha.url == f"{chart_repo.url}/charts/alpha-1.0.0.tgz"
    assert alpha.digest == build(tgz, None, alpha.created or "").digest
    assert (alpha.prov_url, alpha.prov_sha256) == (None, None)
    assert beta.prov_url == f"{chart_repo.url}/charts/beta-1.0.0.tgz.prov"
    assert (
        beta.digest
        == build(chart_repo.files["beta-1.0.0"].read_bytes(), PROV, beta.created or "").digest
    )
    assert "wrote mirrors/releases/1.0.0.yaml: 0 images, 0 AMIs, 2 Helm charts." in out
    text = Path("mirrors/releases/1.0.0.yaml").read_text()
    assert "# Charts: each .tgz read from its index.yaml entry" in text


def test_a_version_missing_from_the_index(proj: Path, chart_repo: ChartRepo) -> None:
    code, out, err = add("2.0.0")
    assert (code, out) == (1, "")
    assert err == (
        f"mirrors/destinations.yaml:{line_of(f'    source: {{url: {chart_repo.url}}}')}: "
        f"charts[0].source.url: index.yaml has no chart alpha at version 2.0.0 "
        f"(got {chart_repo.url}). Hint: versions there: 1.0.0, 1.1.0; check that the release's "
        "chart was published\n"
    )
    assert list(Path("mirrors/releases").glob("*.yaml")) == []


def test_bytes_that_do_not_hash_to_the_index_digest(proj: Path, chart_repo: ChartRepo) -> None:
    chart_repo.index(
        {
            "alpha": [chart_repo.entry("alpha", "1.0.0", digest="0" * 64)],
            "beta": [chart_repo.entry("beta", "1.0.0")],
        }
    )
    code, out, err = add("1.0.0")
    assert (code, out) == (1, "")
    sha = hashlib.sha256(chart_repo.files["alpha-1.0.0"].read_bytes()).hexdigest()
    assert err == (
        f"mirrors/destinations.yaml:{line_of(f'    source: {{url: {chart_repo.url}}}')}: "
        f"charts[0].source.url: {chart_repo.url}/charts/alpha-1.0.0.tgz does not hash to the "
        f"index.yaml digest {'0' * 64} (got sha256:{sha}). Hint: nothing was pinned: the "
        "repository serves other bytes than its index names; do not pin until the vendor fixes "
        "it\n"
    )
    assert list(Path("mirrors/releases").glob("*.yaml")) == []


def test_a_tgz_that_is_not_a_chart(proj: Path, chart_repo: ChartRepo) -> None:
    broken = chart_repo.entry("broken", "1.0.0", name="alpha", version="1.0.0")
    chart_repo.index({"alpha": [broken], "beta": [chart_repo.entry("beta", "1.0.0")]})
    code, out, err = add("1.0.0")
    assert (code, out) == (1, "")
    assert err == (
        f"mirrors/destinations.yaml:{line_of(f'    source: {{url: {chart_repo.url}}}')}: "
        f"charts[0].source.url: {chart_repo.url}/charts/broken-1.0.0.tgz is not a Helm chart: "
        f"not a gzipped tar archive (BadGzipFile) (got sha256:{broken['digest']}). Hint: the "
        "index points at a file that helm could not install; ask the vendor\n"
    )
    assert list(Path("mirrors/releases").glob("*.yaml")) == []


def test_an_index_entry_named_otherwise_than_the_chart(proj: Path, chart_repo: ChartRepo) -> None:
    chart_repo.index(
        {
            "alpha": [chart_repo.entry("alpha", "1.0.0")],
            "beta": [chart_repo.entry("beta", "1.0.0", name="gamma")],
        }
    )
    code, out, err = add("1.0.0")
    assert (code, out) == (1, "")
    assert err == (
        f"mirrors/destinations.yaml:{line_of('      chart: beta')}: charts[1].source.chart: "
        "index.yaml lists beta 1.0.0 under another chart name (got gamma). Hint: the index "
        "entry and the chart disagree; ask the vendor to re-index\n"
    )
    assert list(Path("mirrors/releases").glob("*.yaml")) == []


def test_an_index_entry_whose_tgz_is_another_chart(proj: Path, chart_repo: ChartRepo) -> None:
    # The entry says alpha, its URL and digest are beta's .tgz: Chart.yaml says beta.
    swapped = chart_repo.entry("beta", "1.0.0", name="alpha")
    chart_repo.index({"alpha": [swapped], "beta": [chart_repo.entry("beta", "1.0.0")]})
    code, out, err = add("1.0.0")
    assert (code, out) == (1, "")
    assert err == (
        f"mirrors/destinations.yaml:{line_of(f'    source: {{url: {chart_repo.url}}}')}: "
        f"charts[0].source.chart: {chart_repo.url}/charts/beta-1.0.0.tgz holds another chart "
        "than index.yaml names (alpha 1.0.0) (got beta 1.0.0). Hint: the index entry and the "
        "chart's Chart.yaml disagree; ask the vendor to re-index\n"
    )
    assert list(Path("mirrors/releases").glob("*.yaml")) == []


def test_an_unreachable_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirrors: list[RegistryServer]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    write_spec(tmp_path, url, mirrors)
    monkeypatch.chdir(tmp_path)
    code, out, err = add("1.0.0")
    assert (code, out) == (1, "")
    assert err == (
        f"mirrors/destinations.yaml:{line_of(f'    source: {{url: {url}}}')}: "
        f"charts[0].source.url: cannot read the chart repository (got {url}/index.yaml: "
        "ConnectError: [Errno 111] Connection refused). Hint: check the URL and the network; TLS "
        "is verified (source.tls.ca_file for a private CA)\n"
    )
    assert list(Path("mirrors/releases").glob("*.yaml")) == []
