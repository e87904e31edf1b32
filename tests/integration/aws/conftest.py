"""A real moto_server on 127.0.0.1 for the AWS tests, reset before every test.

Two "partitions" share the server: `commercial` (profile commercial, us-west-2) and `govcloud`
(profile govcloud, us-gov-west-1) with different credentials from a temporary shared-credentials
file, exactly as production reads them (profile -> credentials at call time). moto keeps S3 per
partition, so the GovCloud bucket is invisible to the commercial client, as in AWS.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from artifact_mirrors.aws.session import ENDPOINT_ENV, AwsClients


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = Path(sys.executable).parent / "moto_server"
    if not binary.exists():
        pytest.fail(f"moto_server not found at {binary}: install moto[server] in the venv")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=2)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start: {log.read_text(errors='replace')}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(autouse=True)
def moto(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    httpx.post(f"{moto_url}/moto-api/reset", timeout=30).raise_for_status()
    creds = tmp_path / "credentials"
    creds.write_text(
        "[commercial]\n"
        "aws_access_key_id = AKIACOMMERCIAL000001\n"
        "aws_secret_access_key = commercial-secret\n"
        "[govcloud]\n"
        "aws_access_key_id = AKIAGOVCLOUD00000001\n"
        "aws_secret_access_key = govcloud-secret\n"
    )
    config = tmp_path / "config"
    config.write_text("")
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv(ENDPOINT_ENV, moto_url)
    return moto_url


@pytest.fixture
def commercial() -> AwsClients:
    return AwsClients("aws", "us-west-2", profile="commercial")


@pytest.fixture
def govcloud() -> AwsClients:
    return AwsClients("aws-us-gov", "us-gov-west-1", profile="govcloud")
