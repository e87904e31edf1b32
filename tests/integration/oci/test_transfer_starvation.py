"""Transfers must not starve copies: what the engine's 4-thread provider server does with both.

The engine serves every dynamic resource of a stack from one `python -m pulumi.dynamic` process
with 4 worker threads. A GovCloud transfer holds one for tens of minutes. Here the AWS endpoint
is a gate on 127.0.0.1 that holds every request until the test opens it, so a real
``AmiTransfer`` Create stays inside its first AWS call as long as the test wants, like a store
task that takes an hour:

- one stack (scope ``all``): with 4 transfers running, an ImageTag waits for a transfer to end;
- two stacks (``commercial`` + ``govcloud``, components.scope): every ImageTag of the release
  completes while all 4 transfers are still running.

Only the order of events is asserted, never a duration.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from artifact_mirrors.aws.session import ENDPOINT_ENV
from artifact_mirrors.oci.env import INSECURE_ENV
from components.dynamic.ami import AmiTransferProvider
from components.dynamic.image_tag import ImageTagProvider
from components.mockrun import render
from tests.conftest import ROOT
from tests.integration.oci.images import SourceImages
from tests.integration.oci.servers import RegistryServer
from tests.integration.oci.test_session import tag_props
from tests.providers.harness import ProviderError, ProviderServer, provider_server, urn

pytestmark = pytest.mark.registry

T_TRANSFER = "pulumi-python:dynamic/artifact-mirrors:AmiTransfer"
T_TAG = "pulumi-python:dynamic/artifact-mirrors:ImageTag"
REFUSAL = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>'
    b"InvalidParameterValue</Code><Message>the test closed the gate</Message></Error></Errors>"
    b"<RequestID>test</RequestID></Response>"
)


class Gate:
    """An AWS endpoint that holds each request until :meth:`open`, then refuses it (HTTP 400)."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.held = 0
        self._cond = threading.Condition()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gate._cond:
                    gate.held += 1
                    gate._cond.notify_all()
                gate.opened.wait(120)
                self.send_response(400)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(REFUSAL)))
                self.end_headers()
                self.wfile.write(REFUSAL)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_held(self, n: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.held >= n, timeout=60), self.held

    def open(self) -> None:
        self.opened.set()

    def close(self) -> None:
        self.opened.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.close()


@pytest.fixture
def aws_env(tmp_path: Path, gate: Gate) -> dict[str, str]:
    """The spec's profiles with static keys, every AWS client pointed at the gate."""
    creds = tmp_path / "credentials"
    creds.write_text(
        "".join(
            f"[{p}]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
            for p in ("teleport-mirrors", "teleport-govcloud")
        )
    )
    return {
        ENDPOINT_ENV: gate.url,
        "AWS_SHARED_CREDENTIALS_FILE": str(creds),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def transfers(scope: str) -> list[dict[str, Any]]:
    config = {
        "artifact-mirrors:spec": "mirrors/destinations.yaml",
        "artifact-mirrors:releasesDir": "mirrors/releases",
        "artifact-mirrors:scope": scope,
        "artifact-mirrors:commercialStack": "acme/artifact-mirrors/prod",
    }
    records = [r for r in render(ROOT, "prod", config) if r.type == T_TRANSFER]
    # Only 15.1.6 has all six AMIs: four of its transfers fill the server's four threads.
    return [
        {"urn": r.urn, "inputs": {**r.inputs, "source_image_id": "ami-0123456789abcdef0"}}
        for r in records
        if r.name.startswith("15.1.6/")
    ][:4]


def tags(source: SourceImages, src: RegistryServer, dst: RegistryServer, n: int):
    """``n`` release tags of the source image, each in its own mirror repository."""
    return [tag_props(src, source.repo, source.index, dst, f"starve/app{i}") for i in range(n)]


class Log:
    def __init__(self) -> None:
        self.events: list[str] = []
        self._lock = threading.Lock()

    def add(self, event: str) -> None:
        with self._lock:
            self.events.append(event)


def start_transfers(
    server: ProviderServer, todo: list[dict[str, Any]], pool: ThreadPoolExecutor, log: Log
) -> list[Future[None]]:
    drv = server.driver(AmiTransferProvider())

    def one(t: dict[str, Any]) -> None:
        with pytest.raises(ProviderError) as err:
            drv.create(t["urn"], drv.check(t["urn"], None, t["inputs"]).inputs)
        assert "the test closed the gate" in str(err.value)
        log.add("transfer ended")

    return [pool.submit(one, t) for t in todo]


def copy_tags(server: ProviderServer, props: list[dict[str, Any]], log: Log) -> None:
    drv = server.driver(ImageTagProvider())
    for p in props:
        res = urn(f"{p['repository']}:{p['tag']}", T_TAG)
        drv.create(res, drv.check(res, None, p).inputs)
        log.add("tag copied")


def test_in_one_stack_four_transfers_hold_every_image_copy(
    gate: Gate,
    aws_env: dict[str, str],
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    todo = transfers("all")
    assert len(todo) == 4
    env = {**aws_env, INSECURE_ENV: src_registry.host, "DOCKER_CONFIG": str(tmp_path)}
    log = Log()
    with provider_server(env) as server, ThreadPoolExecutor(max_workers=5) as pool:
        running = start_transfers(server, todo, pool, log)
        gate.wait_held(4)  # all 4 worker threads are inside a transfer
        copy = pool.submit(copy_tags, server, tags(source, src_registry, dst_registry, 1), log)
        # A copy of a few KB, yet it cannot even start: no thread is free. (It never finishes
        # before the gate opens; the bound only stops the wait, it is no speed claim.)
        assert wait([copy], timeout=3).not_done == {copy}
        gate.open()  # the transfers end (refused); only then can the copy run
        copy.result(timeout=120)
        for fut in running:
            fut.result(timeout=120)
    assert log.events.index("tag copied") > log.events.index("transfer ended")


def test_with_govcloud_in_its_own_stack_copies_finish_while_transfers_run(
    gate: Gate,
    aws_env: dict[str, str],
    source: SourceImages,
    src_registry: RegistryServer,
    dst_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    todo = transfers("govcloud")
    assert len(todo) == 4
    env = {**aws_env, INSECURE_ENV: src_registry.host, "DOCKER_CONFIG": str(tmp_path)}
    log = Log()
    with (
        provider_server(env) as govcloud,  # `pulumi up -s prod-govcloud`
        provider_server(env) as commercial,  # `pulumi up -s prod`, its own provider process
        ThreadPoolExecutor(max_workers=4) as pool,
    ):
        running = start_transfers(govcloud, todo, pool, log)
        gate.wait_held(4)
        copy_tags(commercial, tags(source, src_registry, dst_registry, 6), log)
        assert not any(f.done() for f in running)  # the transfers are all still running
        gate.open()
        for fut in running:
            fut.result(timeout=120)
    assert log.events == ["tag copied"] * 6 + ["transfer ended"] * 4
