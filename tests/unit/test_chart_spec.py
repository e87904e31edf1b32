"""`charts:` in the spec and the release manifests: each mistake is one located line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_mirrors.charts.artifact import created_annotation, go_json, metadata
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
