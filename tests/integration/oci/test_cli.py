"""`mirrors copy` through typer's CliRunner on a local app (the lead's cli.py registers it too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from artifact_mirrors.cli.copy import register
from tests.integration.oci.images import Pusher, SourceImages
from tests.integration.oci.servers import RegistryServer

pytestmark = pytest.mark.registry


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root (forces sub-command mode, like the real CLI)."""

    register(app)
    return app


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    # No stray credentials from the machine running the tests.
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    return CliRunner()


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
    missing = runner.invoke(app, ["copy", f"{src}:nope", dst, *flags])
    assert missing.exit_code == 1
    assert missing.stderr == f"copy failed: {src}:nope: tag not found\n"

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
    assert tls.stderr.startswith(f"copy failed: TLS handshake with {src_registry.host} failed: ")
