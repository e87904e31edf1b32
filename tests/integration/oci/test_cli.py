"""`mirrors copy` through typer's CliRunner on a local app (the lead's cli.py registers it too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from tests.integration.oci.images import Pusher, SourceImages
from tests.integration.oci.servers import CertAuthority, RegistryServer, start_registry

pytestmark = pytest.mark.registry


def insecure(*servers: RegistryServer) -> list[str]:
    out = []
    for s in servers:
        out += ["--insecure", s.host]
    return out


def test_copy_json(
    app: typer.Typer,
    runner: CliRunner,
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    src = f"{src_registry.host}/src/app:1.0"
    dst = f"{dst_registry.host}/{repo_name}"
    result = runner.invoke(app, ["copy", src, dst, *insecure(src_registry, dst_registry), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["digest"] == source.index
    assert doc["destination"] == f"{dst}:1.0"
    assert doc["platforms"] == ["linux/amd64", "linux/arm64", "linux/arm/v7"]
    assert doc["blobs_copied"] > 0
    assert dst_pusher.tag_digest(repo_name, "1.0") == source.index
    again = runner.invoke(app, ["copy", src, dst, *insecure(src_registry, dst_registry), "--json"])
    assert again.exit_code == 0
    assert json.loads(again.stdout)["up_to_date"] is True


def test_copy_summary_table(
    app: typer.Typer,
    runner: CliRunner,
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    dst_pusher: Pusher,
    repo_name: str,
) -> None:
    result = runner.invoke(
        app,
        [
            "copy",
            f"{src_registry.host}/src/app@{source.docker_list}",
            f"{dst_registry.host}/{repo_name}:17.0.1",
            *insecure(src_registry, dst_registry),
            "--no-signatures",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    for row in ("blobs copied", "blobs mounted", "blobs skipped", "bytes moved", "platforms"):
        assert row in result.stdout
    assert source.docker_list in result.stdout
    assert "linux/amd64, linux/arm64" in result.stdout
    assert dst_pusher.tag_digest(repo_name, "17.0.1") == source.docker_list
    assert dst_pusher.tag_digest(repo_name, source.docker_list.replace(":", "-") + ".sig") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["{src}/src/app", "{dst}/x"],
            "mirrors copy: SRC: reference has no tag or digest (got "
            "{src}/src/app). Hint: add :TAG or @sha256:DIGEST to SRC",
        ),
        (
            ["{src}/Src/app:1", "{dst}/x"],
            "mirrors copy: SRC: invalid repository name (got "
            "{src}/Src/app:1). Hint: repository path components are lowercase letters, digits and "
            "separators . _ __ -",
        ),
        (
            ["{src}/src/app:1.0", "{dst}/x@sha256:" + "a" * 64],
            "mirrors copy: DST: destination "
            "cannot be a digest (got {dst}/x@sha256:" + "a" * 64 + "). Hint: write DST as REPO "
            "or REPO:TAG",
        ),
        (
            ["{src}/src/app:1.0", "{dst}/x", "--ca-file", "/nonexistent/ca.pem"],
            "mirrors copy: "
            "--ca-file: no such file (got /nonexistent/ca.pem). Hint: pass a PEM CA bundle as PATH "
            "or HOST:PORT=PATH",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    app: typer.Typer,
    runner: CliRunner,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    args: list[str],
    message: str,
) -> None:
    hosts = {"src": src_registry.host, "dst": dst_registry.host}
    result = runner.invoke(app, ["copy", *[a.format(**hosts) for a in args]])
    assert result.exit_code == 2
    assert result.stderr == message.format(**hosts) + "\n"
    assert "Traceback" not in result.output


def test_failures_exit_1(
    app: typer.Typer,
    runner: CliRunner,
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    repo_name: str,
) -> None:
    src = f"{src_registry.host}/src/app"
    dst = f"{dst_registry.host}/{repo_name}"
    flags = insecure(src_registry, dst_registry)
    src_tags = httpx.get(f"{src_registry.url}/v2/src/app/tags/list").json()["tags"]
    missing = runner.invoke(app, ["copy", f"{src}:nope", dst, *flags])
    assert missing.exit_code == 1
    assert missing.stderr == (
        f"copy failed: source {src}:nope: tag not found. Hint: check the tag; {src} has "
        f"{len(src_tags)} tags\n"
    )

    assert runner.invoke(app, ["copy", f"{src}:1.0", f"{dst}:rel", *flags]).exit_code == 0
    clash = runner.invoke(app, ["copy", f"{src}:1.0-docker", f"{dst}:rel", *flags])
    assert clash.exit_code == 1
    assert clash.stderr == (
        f"copy failed: tag {dst}:rel already points at {source.index}, refusing to move it to "
        f"{source.docker_list} (release tags never move; mark the tag floating to allow it)\n"
    )
    moved = runner.invoke(app, ["copy", f"{src}:1.0-docker", f"{dst}:rel", *flags, "--floating"])
    assert moved.exit_code == 0, moved.output

    tls = runner.invoke(app, ["copy", f"{src}:1.0", f"{dst}:x"])  # plain HTTP hosts not marked
    assert tls.exit_code == 1
    assert tls.stderr == (
        f"copy failed: TLS handshake failed for source registry {src_registry.host}: "
        "WRONG_VERSION_NUMBER. Hint: if the registry serves plain HTTP, mark it insecure (mirrors "
        "copy --insecure HOST:PORT, or insecure: true for an oci registry in the spec)\n"
    )


def _rows(stdout: str) -> dict[str, str]:
    """The summary table's rows: ``│ what │ value │`` -> {what: value}."""
    out = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if len(cells) == 2 and cells[0]:
            out[cells[0]] = cells[1]
    return out


def test_piped_summary_prints_the_full_digest_and_counts_the_tag_apart(
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    repo_name: str,
    tmp_path: Path,
) -> None:
    """The real entry point with stdout a pipe (`mirrors copy ... | cat`, a CI log)."""
    root = Path(__file__).resolve().parents[3]
    argv = [
        sys.executable, "-m", "artifact_mirrors", "copy", f"{src_registry.host}/src/app:1.0",
        f"{dst_registry.host}/{repo_name}", *insecure(src_registry, dst_registry),
        "--no-signatures",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(root), "DOCKER_CONFIG": str(tmp_path)}
    env.pop("COLUMNS", None)
    first = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert first.returncode == 0, first.stderr
    rows = _rows(first.stdout)
    assert rows["digest"] == source.index
    # The index, its 3 platform images and the attestation, by digest; then the tag, once.
    assert (rows["manifests pushed"], rows["tag"]) == ("5", "1.0 written")
    again = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    rows = _rows(again.stdout)
    assert (rows["status"], rows["manifests pushed"], rows["tag"]) == (
        "already up to date",
        "0",
        "1.0 already there",
    )


def test_missing_repository_is_not_a_missing_tag(
    app: typer.Typer,
    runner: CliRunner,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    repo_name: str,
) -> None:
    src = f"{src_registry.host}/src/nope"
    result = runner.invoke(
        app, ["copy", f"{src}:1.0", f"{dst_registry.host}/{repo_name}", *insecure(src_registry)]
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"copy failed: source {src}:1.0: repository not found. Hint: check the repository name "
        f"{src}\n"
    )
    close = runner.invoke(
        app,
        [
            "copy", f"{src_registry.host}/src/app:1.0-dockr", f"{dst_registry.host}/{repo_name}",
            *insecure(src_registry),
        ],
    )  # fmt: skip
    assert close.stderr == (
        f"copy failed: source {src_registry.host}/src/app:1.0-dockr: tag not found. Hint: did "
        "you mean 1.0-docker?\n"
    )


@pytest.fixture(scope="module")
def misnamed_registry(
    tmp_path_factory: pytest.TempPathFactory, test_ca: CertAuthority
) -> Iterator[RegistryServer]:
    """A TLS registry on 127.0.0.1 whose certificate (from the test CA) names only
    registry.example: the chain is trusted, the name is not."""
    d = tmp_path_factory.mktemp("misnamed")
    ca_key = test_ca.ca_cert.with_name("ca.key")
    key, csr, crt, ext = d / "s.key", d / "s.csr", d / "s.crt", d / "san.ext"
    ext.write_text("subjectAltName=DNS:registry.example\nextendedKeyUsage=serverAuth\n")
    for args in (
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=registry.example",
         "-keyout", str(key), "-out", str(csr)],
        ["x509", "-req", "-in", str(csr), "-CA", str(test_ca.ca_cert), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(crt)],
    ):  # fmt: skip
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    server = start_registry(
        d / "registry", tls=CertAuthority(test_ca.ca_cert, crt, key), ready_verify=False
    )
    yield server
    server.stop()


def test_tls_name_mismatch_says_so_instead_of_asking_for_a_ca(
    app: typer.Typer,
    runner: CliRunner,
    src_registry: RegistryServer,
    misnamed_registry: RegistryServer,
    test_ca: CertAuthority,
) -> None:
    dst = misnamed_registry.host
    result = runner.invoke(
        app,
        [
            "copy", f"{src_registry.host}/src/app:1.0", f"{dst}/x", *insecure(src_registry),
            "--ca-file", f"{dst}={test_ca.ca_cert}",
        ],
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr == (
        f"copy failed: TLS verification failed for destination registry {dst}: the certificate "
        "is not valid for the name 127.0.0.1. Hint: reach the registry by a name its "
        "certificate lists, or reissue the certificate with 127.0.0.1 in its subject "
        "alternative names; TLS is never disabled\n"
    )


def test_copy_help_has_an_example_credentials_and_exit_codes(
    app: typer.Typer, runner: CliRunner
) -> None:
    from artifact_mirrors.cli.copy import COPY_HELP

    assert "Example: mirrors copy public.ecr.aws/gravitational/teleport-distroless:17.0.1" in (
        COPY_HELP
    )
    assert "MIRRORS_REGISTRY_AUTH_127_0_0_1_5000" in COPY_HELP
    assert COPY_HELP.endswith(
        "Exit codes: 0 copied or already up to date, 1 the copy failed (nothing is tagged), 2 bad"
        " input."
    )
    result = runner.invoke(app, ["copy", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "Exit codes: 0 copied or already up to date" in text
    assert "<bool>" not in result.stdout
    assert "--json Print the result as JSON" in text
