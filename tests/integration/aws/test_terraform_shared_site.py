"""Two providers mirrored to one registry site, installed together by a real Terraform 1.0.3.

The site has one ``/.well-known/terraform.json`` and each provider its own
``v1/providers/NAMESPACE/TYPE``; the sums are signed with a key made here, so Terraform checks
the vendor's signature of both. Files are put as the copy writes them, documents as the program
renders them (see test_terraform_verify.py); the copy and release add are tested in
test_terraform_mirror.py.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from artifact_mirrors.aws.session import AwsClients
from components import mockrun
from tests.integration.aws.terraform_fixture import NAMESPACE, Gpg, HttpsSite, s3_lookup
from tests.integration.aws.terraform_offline import (
    T_DOC,
    manifest_entry,
    offline_project,
    vendor_files,
)
from tests.integration.aws.test_terraform_mirror import TERRAFORM, flat
from tests.integration.oci.servers import make_ca

pytestmark = pytest.mark.moto

BUCKET = "tf-mirror"
TYPES = {"demo": "demo", "other": "other"}  # provider name -> type

SPEC = """\
version: 1
labels:
  image_description: templates/image-description.j2
  image_full_description: templates/image-full-description.md.j2
  ami_description: templates/ami-description.j2
terraform_providers:
"""
PROVIDER = """\
  - name: {name}
    namespace: testvendor
    type: {type_}
    source: https://vendor.test
    platforms: [darwin/arm64, linux/amd64]
    destinations:
      - name: registry
        kind: registry
        bucket: tf-mirror
        prefix: site
        region: us-west-2
        profile: commercial
"""


def mirror_and_init(
    tmp_path: Path, gpg: Gpg, types: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Mirror version 1.0.0 of every provider of ``types`` (name -> type) to one registry site,
    then `terraform init` a configuration requiring them all; (result, site host)."""
    spec = SPEC + "".join(PROVIDER.format(name=name, type_=type_) for name, type_ in types.items())
    files = {name: vendor_files("1.0.0", t, gpg.sign) for name, t in types.items()}
    project = offline_project(tmp_path / "proj", spec, versions=())
    lines = ["version: 1.0.0", "channel: stable", "terraform_providers:"]
    for name, type_ in types.items():
        lines += manifest_entry(name, "1.0.0", files[name], type_, (gpg.key_id, gpg.armor))
    (project / "mirrors/releases/1.0.0.yaml").write_text("\n".join(lines) + "\n")

    s3 = AwsClients("aws", "us-west-2", "commercial").s3()
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for name, type_ in types.items():
        for file, data in files[name].items():
            s3.put_object(
                Bucket=BUCKET,
                Key=f"site/v1/providers/{NAMESPACE}/{type_}/1.0.0/{file}",
                Body=data,
                Metadata={"sha256": hashlib.sha256(data).hexdigest()},
            )
    docs = [r for r in mockrun.render(project, "prod") if r.type == T_DOC]
    assert [r.inputs["key"] for r in docs].count("site/.well-known/terraform.json") == 1
    for r in docs:
        s3.put_object(
            Bucket=BUCKET,
            Key=r.inputs["key"],
            Body=r.inputs["content"].encode(),
            ContentType=r.inputs["contentType"],
        )

    tls = make_ca(tmp_path / "ca")
    site = HttpsSite(tls, s3_lookup(s3, BUCKET, "site"))
    try:
        work = tmp_path / "tf"
        work.mkdir()
        required = "".join(
            f'    {t} = {{\n      source  = "{site.host}/{NAMESPACE}/{t}"\n'
            '      version = "1.0.0"\n    }\n'
            for t in types.values()
        )
        (work / "main.tf").write_text(
            f"terraform {{\n  required_providers {{\n{required}  }}\n}}\n"
        )
        (work / "cli.tfrc").write_text("")
        done = subprocess.run(
            [str(TERRAFORM), "init", "-input=false", "-no-color", "-backend=false"],
            cwd=work,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(work),
                "SSL_CERT_FILE": str(tls.ca_cert),
                "TF_CLI_CONFIG_FILE": str(work / "cli.tfrc"),
                "CHECKPOINT_DISABLE": "1",
            },
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        site.stop()
    return done, site.host


def test_terraform_installs_two_providers_from_one_site(tmp_path: Path) -> None:
    gpg = Gpg.create(tmp_path / "gpg", "Test Vendor <release@vendor.test>")
    done, host = mirror_and_init(tmp_path, gpg, TYPES)
    assert done.returncode == 0, done.stdout + done.stderr
    for t in TYPES.values():
        assert (
            f"- Installed {host}/{NAMESPACE}/{t} v1.0.0 (self-signed, key ID {gpg.key_id})"
            in flat(done.stdout)
        ), done.stdout


def test_terraform_1_0_3_cannot_read_an_ed25519_signing_key(tmp_path: Path) -> None:
    """What `mirrors release add`'s ed25519 warning says (artifact_mirrors/terraform/resolve.py)."""
    gpg = Gpg.create(tmp_path / "gpg", "Test Vendor <release@vendor.test>", "ed25519")
    done, host = mirror_and_init(tmp_path, gpg, {"demo": "demo"})
    assert done.returncode == 1
    assert (
        f"Error while installing {host}/{NAMESPACE}/demo v1.0.0: error decoding signing key: "
        "openpgp: unsupported feature: public key type: 22" in flat(done.stderr)
    ), done.stderr
