"""`charts:` in the spec and the release manifests: each mistake is one located line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_mirrors.charts.artifact import created_annotation, go_json, metadata
from artifact_mirrors.charts.provenance import ProvenanceError, signed_files
from artifact_mirrors.cli import app
from tests.conftest import edit

SPEC = "mirrors/destinations.yaml"
CLUSTER = "  - name: teleport-cluster\n    source: {url: https://charts.releases.teleport.dev}\n"


def line(project: Path, file: str, text: str) -> int:
    return (project / file).read_text().splitlines().index(text) + 1


@pytest.mark.parametrize(
    ("new", "where", "message"),
    [
        pytest.param(
            "  - name: teleport-cluster\n    source: {url: https://charts.releases.teleport.dev,"
            " oci: ghcr.io/x/teleport-cluster}\n",
            "    source: {url: https://charts.releases.teleport.dev,"
            " oci: ghcr.io/x/teleport-cluster}",
            "charts[0].source: give exactly one of source.url or source.oci (got url, oci). "
            "Hint: url: an HTTP chart repository; oci: a repository holding the chart",
            id="url-and-oci",
        ),
        pytest.param(
            "  - name: teleport-cluster\n    source: {url: ftp://charts.releases.teleport.dev}\n",
            "    source: {url: ftp://charts.releases.teleport.dev}",
            "charts[0].source.url: not a chart repository URL (got "
            "ftp://charts.releases.teleport.dev). Hint: write the chart repository's base URL, "
            "e.g. https://charts.releases.teleport.dev",
            id="not-http",
        ),
        pytest.param(
            "  - name: teleport-cluster\n    source: {oci: ghcr.io/x/teleport-cluster,"
            " keyring: keys/helm.gpg}\n",
            "    source: {oci: ghcr.io/x/teleport-cluster, keyring: keys/helm.gpg}",
            "charts[0].source.keyring: an OCI source has no .prov file to check (got "
            "keys/helm.gpg). Hint: drop source.keyring: an OCI source is copied by digest as it is",
            id="oci-keyring",
        ),
    ],
)
def test_bad_chart_source_is_one_located_line(
    project: Path, new: str, where: str, message: str
) -> None:
    edit(project / SPEC, CLUSTER, new)
    result = CliRunner().invoke(app, ["validate"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"{SPEC}:{line(project, SPEC, where)}: {message}\n"


def test_a_chart_repository_an_image_already_uses_is_refused(project: Path) -> None:
    edit(
        project / SPEC,
        "    repository: charts/teleport-operator\n",
        "    repository: teleport-operator\n",
    )
    result = CliRunner().invoke(app, ["validate"])
    assert (result.exit_code, result.stdout) == (2, "")
    where = line(project, SPEC, "    repository: teleport-operator") - 1
    assert result.stderr == (
        f"{SPEC}:{where}: charts[2].registries[0]: an image already mirrors to "
        "public.ecr.aws/teleport-mirror/teleport-operator (got ecr-public). Hint: set a "
        "different 'repository:' for the chart (or defaults.chart.repository: charts/{name})\n"
    )


def test_a_release_pinning_a_chart_the_spec_does_not_list(project: Path) -> None:
    edit(
        project / "mirrors/releases/18.6.6.yaml",
        "  teleport-operator:\n    version:",
        "  teleport-opertor:\n    version:",
    )
    result = CliRunner().invoke(app, ["validate"])
    assert (result.exit_code, result.stdout) == (2, "")
    where = line(project, "mirrors/releases/18.6.6.yaml", "  teleport-opertor:")
    assert result.stderr == (
        f"mirrors/releases/18.6.6.yaml:{where}: charts.teleport-opertor: chart is not in the "
        "spec (got teleport-opertor). Hint: did you mean 'teleport-operator'? add it to charts "
        "in destinations.yaml or remove it here\n"
    )


def test_go_json_escapes_like_encoding_json() -> None:
    assert go_json({"a": "<b> & \u2028 é"}) == b'{"a":"\\u003cb\\u003e \\u0026 \\u2028 \xc3\xa9"}'


def test_created_time_is_whole_seconds_in_utc() -> None:
    assert created_annotation("2026-11-30T12:34:56.123456789Z") == "2026-11-30T12:34:56Z"
    assert created_annotation("2026-11-30T14:34:56.5+02:00") == "2026-11-30T12:34:56Z"


def test_metadata_keeps_go_field_order_and_drops_empty_fields() -> None:
    doc = {"version": "1.0.0", "name": "x\tchart", "apiVersion": "v2", "keywords": [], "type": ""}
    assert list(metadata(doc).items()) == [
        ("name", "x chart"),  # sanitised like Metadata.Validate: a tab becomes a space
        ("version", "1.0.0"),
        ("apiVersion", "v2"),
    ]


def test_a_keyring_that_is_not_openpgp_is_one_located_line(project: Path) -> None:
    (project / "mirrors/keys").mkdir(exist_ok=True)
    (project / "mirrors/keys/helm.asc").write_text(
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64!\n-----END PGP PUBLIC KEY BLOCK-----\n"
    )
    where = "    source: {url: https://charts.releases.teleport.dev, keyring: keys/helm.asc}"
    edit(project / SPEC, CLUSTER, f"  - name: teleport-cluster\n{where}\n")
    result = CliRunner().invoke(app, ["validate"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"{SPEC}:{line(project, SPEC, where)}: charts[0].source.keyring: not an OpenPGP keyring "
        "(armor is not base64: Only base64 data is allowed) (got keys/helm.asc). Hint: write the "
        "path (relative to the spec) of the OpenPGP keyring that signs the chart's .prov files, "
        "as `gpg --export KEY` (or --armor) writes it\n"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            b"name: x\nversion: 1.0.0\n",
            "the signed text has no files: section after '...' (got none)",
        ),
        (b"name: x\n\n...\nimages: {}\n", "the signed text has no files: mapping (got NoneType)"),
        (b"name: x\n\n...\nfiles: [x]\n", "the signed text has no files: mapping (got list)"),
    ],
)
def test_a_prov_without_a_files_mapping_is_refused(text: bytes, problem: str) -> None:
    with pytest.raises(ProvenanceError) as caught:
        signed_files(text)
    assert str(caught.value) == problem


def test_the_files_mapping_of_a_helm_prov() -> None:
    # helm's pkg/provenance/testdata/hashtest-1.2.3.tgz.prov, its signed text.
    text = (
        b"apiVersion: v1\ndescription: Test chart versioning\nname: hashtest\nversion: 1.2.3\n\n"
        b"...\nfiles:\n  hashtest-1.2.3.tgz: sha256:c6841b3a895f1444a6738b5d04564a57e860ce42f851"
        b"9c3be807fb6d9bee7888\n"
    )
    sha = "c6841b3a895f1444a6738b5d04564a57e860ce42f8519c3be807fb6d9bee7888"
    assert signed_files(text) == {"hashtest-1.2.3.tgz": f"sha256:{sha}"}
