"""The release as `pulumi up` runs it: the real program, the real dynamic-provider server.

Used by ``bench/copy_vs_skopeo.py`` (the release row) and the tests: a local spec (N images x M
``oci`` registries on 127.0.0.1) is rendered by the program itself (``components.mockrun``), and
every ``ImageTag`` it declares is checked and created through ``python -m pulumi.dynamic``, 4
calls at a time (the server's ``ThreadPoolExecutor(max_workers=4)``), in dependency order: a
resource starts only when everything it depends on (``depends_on``, its parent) is done, as the
engine schedules steps.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from artifact_mirrors.plan import T_IMAGE_TAG, ResourceRecord
from components.dynamic.image_tag import ImageTagProvider
from components.mockrun import render
from tests.providers.harness import ProviderServer

ROOT = Path(__file__).resolve().parent.parent
ENGINE_WORKERS = 4  # pulumi/dynamic/__main__.py: grpc.server(ThreadPoolExecutor(max_workers=4))


def write_local_project(
    root: Path,
    source_host: str,
    mirror_hosts: Sequence[str],
    images: Mapping[str, str],
    version: str = "17.0.1",
) -> dict[str, str]:
    """A spec mirroring ``images`` (source repository -> index digest) to every mirror; returns
    the stack config that points the program at it."""
    shutil.copytree(ROOT / "mirrors" / "templates", root / "templates", dirs_exist_ok=True)
    lines = [
        "version: 1",
        "labels:",
        "  image_description: templates/image-description.j2",
        "  image_full_description: templates/image-full-description.md.j2",
        "  ami_description: templates/ami-description.j2",
        "registries:",
    ]
    for i, host in enumerate(mirror_hosts):
        lines += [
            f"  - {{name: mirror{i}, kind: oci, host: '{host}', namespace: mirror, insecure: true}}"
        ]
    names = ", ".join(f"mirror{i}" for i in range(len(mirror_hosts)))
    lines.append("images:")
    for repo in images:
        name = repo.rsplit("/", 1)[1]
        lines += [f"  - {{name: {name}, source: '{source_host}/{repo}', registries: [{names}]}}"]
    (root / "destinations.yaml").write_text("\n".join(lines) + "\n")
    releases = root / "releases"
    releases.mkdir(exist_ok=True)
    manifest = [f"version: {version}", "channel: stable", "images:"]
    for repo, digest in images.items():
        manifest += [f"  {repo.rsplit('/', 1)[1]}: {{digest: '{digest}'}}"]
    (releases / f"{version}.yaml").write_text("\n".join(manifest) + "\n")
    return {
        "artifact-mirrors:spec": str(root / "destinations.yaml"),
        "artifact-mirrors:releasesDir": str(releases),
    }


def image_tags(root: Path, config: dict[str, str]) -> list[ResourceRecord]:
    """The program's ImageTag resources for this stack, in registration order."""
    return [r for r in render(root, "bench", config) if r.type == T_IMAGE_TAG]


def create_in_dependency_order(
    server: ProviderServer, records: Sequence[ResourceRecord], workers: int = ENGINE_WORKERS
) -> dict[str, dict[str, Any]]:
    """Check then Create every resource, ``workers`` at a time, each after its dependencies;
    returns urn -> outputs. A failure stops scheduling and is raised, as `pulumi up` stops."""
    drv = server.driver(ImageTagProvider())
    by_urn = {r.urn: r for r in records}
    waiting_on = {r.urn: {d for d in (*r.depends_on, r.parent) if d in by_urn} for r in records}
    done: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def step(r: ResourceRecord) -> None:
        checked = drv.check(r.urn, None, r.inputs)
        if checked.failures:
            raise RuntimeError(f"{r.urn}: Check failed: {checked.failures}")
        created = drv.create(r.urn, checked.inputs)
        with lock:
            done[r.urn] = created.outputs

    running: dict[Future[None], str] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [r.urn for r in records]
        while pending or running:
            ready = [u for u in pending if not (waiting_on[u] - done.keys())]
            for u in ready:
                pending.remove(u)
                running[pool.submit(step, by_urn[u])] = u
            if not running:
                raise RuntimeError(f"dependency cycle among {pending}")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                running.pop(fut)
                fut.result()
    return done
