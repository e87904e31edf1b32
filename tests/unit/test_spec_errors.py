"""Bad input: one located line per problem, exit 2, no traceback (foundation issue, item 6)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_mirrors.cli import app
from tests.conftest import edit

SPEC = "mirrors/destinations.yaml"
CASES = [
    pytest.param(
        SPEC,
        "    namespace: gravitational      # `docker run",
        "    namespce: gravitational      # `docker run",
        "mirrors/destinations.yaml:23: registries[0].namespce: unknown key (got namespce). "
        "Hint: did you mean 'namespace'? allowed keys here: name, kind, host, namespace, region, "
        "insecure, tls, credentials",
        id="unknown-key",
    ),
    pytest.param(
        SPEC,
        'account: "146628656107"',
        "account: 146628656107",
        "mirrors/destinations.yaml:76: amis.source.account: must be a valid string "
        "(got 146628656107). Hint: quote it so YAML keeps it a string",
        id="wrong-type",
    ),
    pytest.param(
        SPEC,
        "    kind: dockerhub",
        "    kind: docker-hub",
        "mirrors/destinations.yaml:22: registries[0].kind: must be 'dockerhub', 'quay', "
        "'ecr-public', 'ecr' or 'oci' (got docker-hub). Hint: see 'Spec reference' in README.md",
        id="bad-enum",
    ),
    pytest.param(
        "mirrors/releases/17.5.3.yaml",
        "digest: sha256:6451de9a93c7",
        "digest: sha256:6451DE9a93c7",
        "mirrors/releases/17.5.3.yaml:8: images.teleport-distroless.digest: not a sha256 digest "
        "(got sha256:6451DE9a93c71287e7de0260ca224ff148e73cee02779a95c95a4fbbc6b42dde). "
        "Hint: write 'sha256:' and 64 lowercase hex digits, as `crane digest` prints",
        id="bad-digest",
    ),
    pytest.param(
        "mirrors/releases/17.5.3.yaml",
        "version: 17.5.3",
        "version: v17.5.3",
        "mirrors/releases/17.5.3.yaml:4: version: not a semantic version (got v17.5.3). "
        "Hint: write MAJOR.MINOR.PATCH without a leading v, e.g. 17.0.1",
        id="bad-semver",
    ),
    pytest.param(
        SPEC,
        "      regions: [us-gov-west-1, us-gov-east-1]",
        "      regions: [us-gov-west-1, us-gov-east-1, eu-wst-1]",
        "mirrors/destinations.yaml:98: amis.partitions.aws-us-gov.regions[2]: unknown region "
        "(got eu-wst-1). Hint: did you mean 'us-gov-west-1'? regions in aws-us-gov: "
        "us-gov-west-1, us-gov-east-1",
        id="unknown-region",
    ),
    pytest.param(
        SPEC,
        "      # regions: default = the 17 regions enabled in every account",
        "      regions: [us-east-1, us-west-2, us-gov-west-1]",
        "mirrors/destinations.yaml:93: amis.partitions.aws.regions[2]: region is in partition "
        "aws-us-gov, not aws (got us-gov-west-1). Hint: move it under "
        "amis.partitions.aws-us-gov.regions",
        id="region-in-other-partition",
    ),
    pytest.param(
        SPEC,
        "  - name: quay\n    kind: quay\n    namespace: gravitational",
        "  - name: quay\n    kind: quay\n    host: docker.io\n    namespace: gravitational",
        "mirrors/destinations.yaml:28: registries[1].namespace: duplicate destination: same host "
        "and namespace as registries[0] (got docker.io/gravitational). "
        "Hint: mirror each destination once",
        id="duplicate-destination",
    ),
    pytest.param(
        SPEC,
        "    kind: quay\n    namespace: gravitational",
        "    kind: quay\n    tls: {verify: false}\n    namespace: gravitational",
        "mirrors/destinations.yaml:27: registries[1].tls.verify: TLS verification cannot be "
        "turned off (got false). Hint: give the registry's CA certificate with tls.ca_file (or "
        "insecure: true for a plain-HTTP oci test registry)",
        id="tls-verify-off",
    ),
    pytest.param(
        "mirrors/releases/16.4.6.yaml",
        "  teleport-plugin-slack:",
        "  teleport-plugin-slak:",
        "mirrors/releases/16.4.6.yaml:37: images.teleport-plugin-slak: image is not in the spec "
        "(got teleport-plugin-slak). Hint: did you mean 'teleport-plugin-slack'? add it to "
        "images in destinations.yaml or remove it here",
        id="unknown-image-in-release",
    ),
    pytest.param(
        "mirrors/releases/16.4.6.yaml",
        '  teleport:\n    version: "16.4.6"',
        '  teleprt:\n    version: "16.4.6"',
        "mirrors/releases/16.4.6.yaml:55: terraform_providers.teleprt: provider is not in the "
        "spec (got teleprt). Hint: did you mean 'teleport'? add it to terraform_providers in "
        "destinations.yaml or remove it here",
        id="unknown-terraform-provider-in-release",
    ),
    pytest.param(
        "mirrors/templates/ami-description.j2",
        "{{ release.version }}",
        "{{ release.verison }}",
        "mirrors/templates/ami-description.j2:1: labels.ami_description: template variable does "
        "not exist (got verison). Hint: variables available here: ami, partition, release, source",
        id="template-variable",
    ),
    pytest.param(
        "mirrors/releases/15.1.6.yaml",
        "    region: us-east-1\n    arch: arm64\n    edition: oss",
        "    region: us-east-1\n    arch: arm64\n    edition: oss-arm",
        "mirrors/releases/15.1.6.yaml:45: amis[0].edition: oss-arm-arm64 is not an edition the "
        "spec mirrors (got oss-arm). Hint: editions: oss-x86_64, oss-arm64, ent-x86_64, "
        "ent-arm64, ent-fips-x86_64, ent-fips-arm64",
        id="unknown-edition",
    ),
    pytest.param(
        SPEC,
        "source_bucket: {name: teleport-ami-transfer, region: us-west-2}",
        "source_bucket: {name: teleport-ami-transfer, region: af-south-1}",
        "mirrors/destinations.yaml:103: amis.partitions.aws-us-gov.transfer.source_bucket.region: "
        "the transfer starts from the commercial mirror in this region, which "
        "amis.partitions.aws does not mirror to (got af-south-1). "
        "Hint: add the region to amis.partitions.aws.regions or move the bucket",
        id="transfer-source-not-mirrored",
    ),
    pytest.param(
        SPEC,
        "      launch_permissions: {public: true}\n      block_public_access: check  # fail",
        "      launch_permissions: {public: true}\n      deprecate_at: 2099-01-01\n"
        "      block_public_access: check  # fail",
        "mirrors/destinations.yaml:95: amis.partitions.aws.deprecate_at: public AMIs cannot "
        "deprecate more than 2 years after they are created (got 2099-01-01). Hint: pick a date "
        "before <TODAY+730d> or remove deprecate_at (AWS then deprecates public AMIs 2 years "
        "after creation; mirrors verify warns ahead of it)",
        id="public-deprecation-beyond-2-years",
    ),
    pytest.param(
        "mirrors/releases/18.6.6.yaml",
        "version: 18.6.6\nchannel: stable",
        "version: 18.6.6\nchannel: stable\nyanked: true",
        "mirrors/releases/18.6.6.yaml:6: yanked: a yanked release needs a reason (got true). "
        "Hint: add 'reason:' (it goes into the audit record)",
        id="yank-without-reason",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "message"), CASES)
def test_bad_input_is_one_located_line(
    project: Path, file: str, old: str, new: str, message: str
) -> None:
    edit(project / file, old, new)
    result = CliRunner().invoke(app, ["validate"])
    limit = datetime.now(UTC) + timedelta(days=730)  # AWS's limit for public AMIs, from today
    assert result.exit_code == 2
    assert result.stderr == message.replace("<TODAY+730d>", f"{limit:%Y-%m-%d}") + "\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            b"",
            "mirrors/releases/18.1.2.yaml:1: release manifest is empty. "
            "Hint: see mirrors/destinations.yaml and mirrors/releases/ for examples",
            id="empty",
        ),
        pytest.param(
            b"- a\n- b\n",
            "mirrors/releases/18.1.2.yaml:1: release manifest must be a mapping at the top level "
            "(got a list). Hint: start with 'version: …'",
            id="not-a-mapping",
        ),
        pytest.param(
            b"version: [\n",
            "mirrors/releases/18.1.2.yaml:2: not valid YAML: the file ends before a value is "
            "complete. Hint: close every [ and { (or quote a value that starts with one)",
            id="syntax",
        ),
        pytest.param(
            b"version: 18.1.2\n\xff\xfe\n",
            "mirrors/releases/18.1.2.yaml:2: cannot read release manifest: not UTF-8 text "
            "(got byte 0xff in column 1). Hint: save the file as UTF-8",
            id="unreadable",
        ),
    ],
)
def test_unreadable_or_empty_yaml(project: Path, content: bytes, message: str) -> None:
    (project / "mirrors/releases/18.1.2.yaml").write_bytes(content)
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 2
    assert result.stderr == message + "\n"


def test_every_problem_of_every_file_is_reported_in_order(project: Path) -> None:
    edit(project / SPEC, "    kind: dockerhub", "    kind: docker-hub")
    edit(project / "mirrors/releases/17.5.3.yaml", "version: 17.5.3", "version: v17.5.3")
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [
        "mirrors/destinations.yaml:22",
        "mirrors/releases/17.5.3.yaml:4",
    ]


def test_real_process_exits_2_without_traceback(project: Path) -> None:
    edit(project / SPEC, "    kind: dockerhub", "    kind: docker-hub")
    proc = subprocess.run(
        [sys.executable, "-m", "artifact_mirrors", "validate"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("mirrors/destinations.yaml:22: registries[0].kind: must be")


def test_valid_project_passes(project: Path) -> None:
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "ok: mirrors/destinations.yaml: 3 registries, 11 images, 3 Helm charts, 19 AMI regions; "
        "5 releases (0 yanked)\n"
    )
