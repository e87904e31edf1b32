"""`mirrors release add` verifies a chart's .prov with gpgv against the spec's keyring before it
pins: a .prov signed as `helm package --sign` signs (clearsigned: the Chart.yaml metadata, `...`,
then `files:` NAME-VERSION.tgz: sha256:HEX) by a real GnuPG key made here. A bad signature, a
sha256 other than the .tgz's, a missing .prov are one located line each, and nothing is
written."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from artifact_mirrors import verify_images
from artifact_mirrors.charts.artifact import metadata, read_chart_yaml
from artifact_mirrors.cli import app
from artifact_mirrors.spec.load import load_project
from components.dynamic.chart_tag import ChartTagProvider
from tests.integration.aws.terraform_fixture import Gpg
from tests.integration.charts import test_chart_mirror as mirror_tests
from tests.integration.charts.conftest import ChartRepo
from tests.integration.charts.specs import write_spec
from tests.integration.charts.test_chart_mirror import TYPE, args
from tests.integration.oci.servers import RegistryServer
from tests.providers.harness import ProviderServer, urn

SPEC = Path("mirrors/destinations.yaml")
KEYRING = "keys/helm.gpg"  # relative to the spec: mirrors/keys/helm.gpg

server = mirror_tests.server  # the ChartTag provider server, for this module


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory) -> Gpg:
    return Gpg.create(tmp_path_factory.mktemp("vendor") / "home", "Chart Vendor <c@vendor.test>")


@pytest.fixture(scope="module")
def mallory(tmp_path_factory: pytest.TempPathFactory) -> Gpg:
    return Gpg.create(tmp_path_factory.mktemp("mallory") / "home", "Mallory <m@evil.test>")


def message(tgz: Path, sha256: str | None = None) -> bytes:
    """The text `helm package --sign` signs (helm pkg/provenance sign.go messageBlock): the
    metadata as YAML (sigs.k8s.io/yaml: keys sorted), `...`, then the files: sums."""
    meta = metadata(read_chart_yaml(tgz.read_bytes()))
    out = io.StringIO()
    YAML().dump(dict(sorted(meta.items())), out)
    sha = sha256 or hashlib.sha256(tgz.read_bytes()).hexdigest()
    return f"{out.getvalue()}\n...\nfiles:\n  {tgz.name}: sha256:{sha}\n".encode()


def clearsign(gpg: Gpg, text: bytes) -> bytes:
    return gpg.run(
        "--clearsign", "--digest-algo", "SHA512", "--local-user", gpg.key_id, "--output", "-",
        data=text,
    )  # fmt: skip


@pytest.fixture
def proj(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chart_repo: ChartRepo,
    mirrors: list[RegistryServer],
    vendor: Gpg,
) -> Iterator[Path]:
    """alpha's source names the vendor's keyring (binary, as `gpg --export` writes it)."""
    spec = write_spec(tmp_path, chart_repo.url, mirrors)
    text = spec.read_text()
    old = f"    source: {{url: {chart_repo.url}}}\n"
    assert text.count(old) == 1
    spec.write_text(
        text.replace(old, f"    source: {{url: {chart_repo.url}, keyring: {KEYRING}}}\n")
    )
    (tmp_path / "mirrors/keys").mkdir()
    (tmp_path / "mirrors" / KEYRING).write_bytes(vendor.run("--export", vendor.key_id))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    prov(chart_repo).unlink(missing_ok=True)


def prov(chart_repo: ChartRepo) -> Path:
    return chart_repo.root / "charts/alpha-1.1.0.tgz.prov"


def add(version: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["release", "add", version])
    return result.exit_code, result.stdout, result.stderr


def line_of(text: str) -> int:
    return SPEC.read_text().splitlines().index(text) + 1


def keyring_line(chart_repo: ChartRepo) -> int:
    return line_of(f"    source: {{url: {chart_repo.url}, keyring: {KEYRING}}}")


def nothing_written() -> bool:
    return list(Path("mirrors/releases").glob("*.yaml")) == []


def test_a_validly_signed_prov_is_verified_and_pinned(
    proj: Path, chart_repo: ChartRepo, vendor: Gpg
) -> None:
    signed = clearsign(vendor, message(chart_repo.files["alpha-1.1.0"]))
    prov(chart_repo).write_bytes(signed)
    code, out, err = add("1.1.0")
    assert (code, err) == (0, "")
    assert "wrote mirrors/releases/1.1.0.yaml: 0 images, 0 AMIs, 2 Helm charts." in out
    text = Path("mirrors/releases/1.1.0.yaml").read_text()
    assert "; each .prov of a chart with a keyring verified with gpgv, its sha256 the" in text
    (release,) = load_project(SPEC, Path("mirrors/releases")).releases
    alpha = release.charts["alpha"]
    assert alpha.prov_url == f"{chart_repo.url}/charts/alpha-1.1.0.tgz.prov"
    assert alpha.prov_sha256 == hashlib.sha256(signed).hexdigest()
    # beta names no keyring: pinned without a .prov, as before.
    assert release.charts["beta"].prov_url is None


def test_verify_deep_checks_the_mirrored_prov_against_the_keyring(
    proj: Path,
    chart_repo: ChartRepo,
    mirrors: list[RegistryServer],
    server: ProviderServer,
    vendor: Gpg,
    mallory: Gpg,
) -> None:
    prov(chart_repo).write_bytes(clearsign(vendor, message(chart_repo.files["alpha-1.1.0"])))
    assert add("1.1.0")[0] == 0
    project = load_project(SPEC, Path("mirrors/releases"))
    pin = project.releases[0].charts["alpha"]
    drv = server.driver(ChartTagProvider())
    charts: dict[str, str] = {}
    for reg in project.spec.registries:
        props = args(project.spec, pin, reg)
        drv.create(urn(f"{reg}/charts/alpha:1.1.0-prov", TYPE), props)
        charts[f"{props['repository']}:{pin.tag}"] = pin.digest
    outputs = {"releases": {"1.1.0": {"yanked": False, "charts": charts}}}

    def deep() -> tuple[list[tuple[str, str, str]], list[tuple[str, bool, str]]]:
        loaded = load_project(SPEC, Path("mirrors/releases"))
        tags, _ = verify_images.image_expectations(loaded, outputs, "outputs")
        reports: list[verify_images.SignatureReport] = []
        with verify_images.RegistryPool(loaded) as pool:
            found = verify_images.verify_image_tags(tags, pool, deep=True, signatures=reports)
        return (
            [(f.region, f.check, f.actual) for f in found],
            sorted((r.registry, r.valid, r.detail) for r in reports),
        )

    signed = f"signed by {vendor.key_id} ({KEYRING})"
    assert deep() == ([], [("m0", True, signed), ("m1", True, signed)])
    # The vendor's key left the keyring since the pin (rotated, revoked): every mirror says so.
    (proj / "mirrors" / KEYRING).write_bytes(mallory.run("--export", mallory.key_id))
    bad = "ERRSIG, NO_PUBKEY"
    assert deep() == (
        [("m0", "provenance", bad), ("m1", "provenance", bad)],
        [("m0", False, bad), ("m1", False, bad)],
    )


def test_a_prov_signed_by_another_key(proj: Path, chart_repo: ChartRepo, mallory: Gpg) -> None:
    prov(chart_repo).write_bytes(clearsign(mallory, message(chart_repo.files["alpha-1.1.0"])))
    code, out, err = add("1.1.0")
    assert (code, out) == (1, "")
    assert err == (
        f"mirrors/destinations.yaml:{keyring_line(chart_repo)}: charts[0].source.keyring: "
        f"{chart_repo.url}/charts/alpha-1.1.0.tgz.prov is not validly signed by a key of "
        f"{KEYRING} (got ERRSIG, NO_PUBKEY). Hint: nothing was pinned: the provenance file was "
        "altered or signed by another key; check the vendor's key before adding it to the "
        "keyring\n"
    )
    assert nothing_written()


def test_a_prov_altered_after_signing(proj: Path, chart_repo: ChartRepo, vendor: Gpg) -> None:
    signed = clearsign(vendor, message(chart_repo.files["alpha-1.1.0"]))
    prov(chart_repo).write_bytes(signed.replace(b"description: The alpha", b"description: A alpha"))
    code, out, err = add("1.1.0")
    assert (code, out) == (1, "")
    assert err == (
        f"mirrors/destinations.yaml:{keyring_line(chart_repo)}: charts[0].source.keyring: "
        f"{chart_repo.url}/charts/alpha-1.1.0.tgz.prov is not validly signed by a key of "
        f"{KEYRING} (got BADSIG). Hint: nothing was pinned: the provenance file was altered or "
        "signed by another key; check the vendor's key before adding it to the keyring\n"
    )
    assert nothing_written()


def test_a_validly_signed_prov_for_other_bytes(
    proj: Path, chart_repo: ChartRepo, vendor: Gpg
) -> None:
    tgz = chart_repo.files["alpha-1.1.0"]
    prov(chart_repo).write_bytes(clearsign(vendor, message(tgz, sha256="ab" * 32)))
    code, out, err = add("1.1.0")
    assert (code, out) == (1, "")
    sha = hashlib.sha256(tgz.read_bytes()).hexdigest()
    assert err == (
        f"mirrors/destinations.yaml:{keyring_line(chart_repo)}: charts[0].source.url: "
        f"{chart_repo.url}/charts/alpha-1.1.0.tgz.prov: the signed sha256 of alpha-1.1.0.tgz is "
        f"not the .tgz's (got sha256:{'ab' * 32}). Hint: the .tgz hashes to sha256:{sha}; "
        "nothing was pinned: the signature vouches for other bytes than the repository serves; "
        "ask the vendor to re-sign\n"
    )
    assert nothing_written()


def test_a_default_keyring_requires_every_http_chart_to_be_signed(
    proj: Path, chart_repo: ChartRepo, vendor: Gpg
) -> None:
    # defaults.chart.keyring (ASCII armor this time): beta 1.1.0 has no .prov, so it fails.
    (proj / "mirrors/keys/helm.asc").write_text(vendor.armor)
    text = SPEC.read_text().replace(
        "    repository: charts/{name}\n",
        "    repository: charts/{name}\n    keyring: keys/helm.asc\n",
    )
    SPEC.write_text(text.replace(f", keyring: {KEYRING}}}", "}"))
    prov(chart_repo).write_bytes(clearsign(vendor, message(chart_repo.files["alpha-1.1.0"])))
    code, out, err = add("1.1.0")
    assert (code, out) == (1, "")
    assert err == (
        f"mirrors/destinations.yaml:{line_of('    keyring: keys/helm.asc')}: "
        f"charts[1].source.keyring: {chart_repo.url}/charts/beta-1.1.0.tgz has no provenance "
        f"file (got {chart_repo.url}/charts/beta-1.1.0.tgz.prov: HTTP 404). Hint: nothing was "
        "pinned: the keyring says the chart is signed; ask the vendor for the .prov, or drop "
        "source.keyring for an unsigned chart\n"
    )
    assert nothing_written()


def test_a_keyring_that_is_not_there_fails_validate(proj: Path, chart_repo: ChartRepo) -> None:
    (proj / "mirrors" / KEYRING).unlink()
    result = CliRunner().invoke(app, ["validate"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"mirrors/destinations.yaml:{keyring_line(chart_repo)}: charts[0].source.keyring: "
        f"keyring file not found (got {KEYRING}). Hint: write the path (relative to the spec) of "
        "the OpenPGP keyring that signs the chart's .prov files, as `gpg --export KEY` (or "
        "--armor) writes it\n"
    )
