"""`mirrors verify` for Terraform provider mirrors, against moto_server S3.

The mirror is made as `pulumi up` makes it: every file with the sha256 its copy records
(artifact_mirrors/terraform/copy.py puts the vendor's bytes and ``x-amz-meta-sha256``), every
document the program renders put with its content and content type; the stack outputs are
those the program exports (components.mockrun). Then the mirror drifts the ways that matter: a
zip replaced, a signature replaced with its recorded sha256 forged (only ``--deep`` sees it), a
sums file deleted, a network-mirror hash changed, and a version yanked in its manifest but still
listed because the update has not run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from artifact_mirrors.aws.session import AwsClients
from artifact_mirrors.cli import app
from components import mockrun
from tests.integration.aws.terraform_fixture import provider_zip
from tests.integration.aws.terraform_offline import (
    NET,
    REG,
    T_DOC,
    offline_project,
    sha,
    vendor_files,
    zip_name,
)

pytestmark = pytest.mark.moto

BUCKET = "tf-mirror"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return offline_project(tmp_path / "proj")


@pytest.fixture
def s3() -> Any:
    client = AwsClients("aws", "us-west-2", "commercial").s3()
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    return client


def publish(project: Path, s3: Any) -> None:
    """`pulumi up`: files as the copy writes them, documents as rendered; the outputs saved."""
    exported: dict[str, Any] = {}
    resources = mockrun.render(project, "prod", outputs=exported)
    for version in ("1.0.0", "1.1.0"):
        for name, data in vendor_files(version).items():
            kind = "zip" if name.endswith(".zip") else "other"
            for where in (f"{REG}/{version}/{name}", f"{NET}/{name}"):
                s3.put_object(
                    Bucket=BUCKET,
                    Key=where,
                    Body=data,
                    ContentType="application/zip" if kind == "zip" else "text/plain",
                    Metadata={"sha256": hashlib.sha256(data).hexdigest()},
                )
    for r in resources:
        if r.type == T_DOC:
            i = r.inputs
            s3.put_object(
                Bucket=i["bucket"], Key=i["key"], Body=i["content"].encode(),
                ContentType=i["contentType"],
            )  # fmt: skip
    outputs = mockrun.stack_outputs(resources, exported)
    (project / "outputs.json").write_text(json.dumps(outputs))


def verify(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        ["verify", "--stack", "prod", "--outputs", str(project / "outputs.json"),
         "--providers-only", "-C", str(project), *args],
    )  # fmt: skip
    assert result.exit_code != 2, result.output
    return result.exit_code, result.stdout


def test_a_mirror_as_published_verifies_clean(project: Path, s3: Any) -> None:
    publish(project, s3)
    code, out = verify(project, "--format", "json", "--deep")
    assert code == 0, out
    doc = json.loads(out)
    # Per version: registry 2 x (zip, sums, sig) + 2 download documents, network mirror
    # 2 x 3 files + VERSION.json; then each destination's index and the registry's discovery.
    assert (doc["provider_objects_checked"], doc["errors"], doc["findings"]) == (
        2 * (8 + 7) + 3,
        0,
        [],
    )
    code, out = verify(project, "--format", "markdown")
    assert (code, out) == (0, "**33 provider objects verified: no drift**\n")


def test_drift_is_reported_per_object(project: Path, s3: Any) -> None:
    publish(project, s3)
    zip_key = f"{REG}/1.0.0/{zip_name('1.0.0', 'linux/amd64')}"
    sig_key = f"{NET}/{zip_name('1.0.0', 'darwin/arm64')}.sums.sig"
    sums_key = f"{REG}/1.1.0/{zip_name('1.1.0', 'darwin/arm64')}.sums"
    good_zip = vendor_files("1.0.0")[zip_name("1.0.0", "linux/amd64")]
    good_sig = vendor_files("1.0.0")[zip_name("1.0.0", "darwin/arm64") + ".sums.sig"]
    # A zip replaced by another upload (no recorded sha256: the bytes are hashed).
    evil = provider_zip("6.6.6", "linux/amd64")
    s3.put_object(Bucket=BUCKET, Key=zip_key, Body=evil)
    # A signature replaced with its recorded sha256 forged: only --deep hashes the bytes.
    s3.put_object(Bucket=BUCKET, Key=sig_key, Body=b"forged", Metadata={"sha256": sha(good_sig)})
    s3.delete_object(Bucket=BUCKET, Key=sums_key)
    # A network-mirror hash changed in VERSION.json.
    version_key = f"{NET}/1.0.0.json"
    body = json.loads(s3.get_object(Bucket=BUCKET, Key=version_key)["Body"].read())
    zh = body["archives"]["linux_amd64"]["hashes"][1]
    body["archives"]["linux_amd64"]["hashes"][1] = "zh:" + "0" * 64
    s3.put_object(
        Bucket=BUCKET, Key=version_key, Body=json.dumps(body).encode(), ContentType="text/plain"
    )
    # 1.1.0 recalled in its manifest; the update that unlists it has not run.
    path = project / "mirrors/releases/1.1.0.yaml"
    path.write_text(
        path.read_text().replace(
            "channel: stable\n", "channel: stable\nyanked: true\nreason: recalled\n"
        )
    )

    code, out = verify(project, "--format", "markdown")
    assert code == 1
    z = "0" * 64
    assert out.splitlines() == [
        "**33 provider objects verified: 6 error(s), 0 warning(s)**",
        "",
        "| severity | kind | release | key | where | mirror | check | expected | actual |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| error | provider | 1.0.0 | demo | network-mirror | s3://{BUCKET}/{version_key} | "
        f"content-type | application/json | text/plain |",
        f"| error | provider | 1.0.0 | demo | network-mirror | s3://{BUCKET}/{version_key} | "
        f'document | archives.linux_amd64.hashes[1]: "{zh}" | '
        f'archives.linux_amd64.hashes[1]: "zh:{z}" |',
        f"| error | provider | 1.0.0 | demo | registry | s3://{BUCKET}/{zip_key} | zip | "
        f"sha256 {sha(good_zip)} | sha256 {sha(evil)} |",
        f"| error | provider | 1.1.0 | demo | registry | s3://{BUCKET}/{sums_key} | sums | "
        f"sha256 {sha(vendor_files('1.1.0')[zip_name('1.1.0', 'darwin/arm64') + '.sums'])} | "
        "missing |",
        f"| error | provider | index | demo | network-mirror | s3://{BUCKET}/{NET}/index.json | "
        "index | 1.1.0 not listed (yanked) | listed |",
        f"| error | provider | index | demo | registry | s3://{BUCKET}/{REG}/versions | "
        "index | 1.1.0 not listed (yanked) | listed |",
    ]
    code, out = verify(project, "--format", "json", "--deep")
    assert code == 1
    forged = [f for f in json.loads(out)["findings"] if f["check"] == "sig"]
    assert forged == [
        {
            "severity": "error",
            "release": "1.0.0",
            "key": "demo",
            "region": "network-mirror",
            "image_id": f"s3://{BUCKET}/{sig_key}",
            "check": "sig",
            "expected": f"sha256 {sha(good_sig)}",
            "actual": f"sha256 {sha(b'forged')}",
            "kind": "provider",
        }
    ]
