"""Registry copy: artifact-mirrors vs `skopeo copy --all --preserve-digests` (run manually).

Starts its own docker-registry servers on 127.0.0.1, pushes a 3-platform OCI index with ~30
random (incompressible) layers, ~300 MB at --scale 1, plus cosign-style signature tags, and
measures in one run, each tool in its own subprocess (wall time, peak RSS from os.wait4):

- cold: copy into an empty registry;
- warm: the same copy again (destination complete);
- release: 10 images sharing base layers into 10 repositories of one registry (ours in one run,
  so blobs are uploaded once and mounted after; skopeo one invocation per image);
- with --full (or --big-layer): one image with a single 1 GB layer, for peak RSS.

Fresh destination registries per phase and per tool keep either tool from mounting what the other
uploaded. Targets: cold <= 1.0x skopeo, warm <= 0.5x skopeo, bytes moved = bytes missing, peak
RSS < 150 MB with a 1 GB layer.

    venv/bin/python bench/copy_vs_skopeo.py --scale 0.1      # quick
    venv/bin/python bench/copy_vs_skopeo.py --full           # 300 MB + 1 GB layer
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.oci.images import (  # noqa: E402
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    PLATFORMS,
    Pusher,
    dumps,
    push_index,
    push_signature,
    sha256,
)
from tests.integration.oci.servers import RegistryServer, start_registry  # noqa: E402

RELEASE_SCRIPT = """
import json, sys
from artifact_mirrors.oci import Copier, CopyJob, Registries
jobs, insecure = json.loads(sys.argv[1]), json.loads(sys.argv[2])
with Registries(insecure=insecure) as regs, Copier(regs) as copier:
    results = copier.copy_images([CopyJob(s, d, t) for s, d, t in jobs])
print(json.dumps({"bytes_moved": sum(r.bytes_moved for r in results)}))
"""


@dataclass
class Run:
    wall: float
    rss_mb: float
    bytes_moved: int | None


# Runs the tool as a grandchild and reports its ru_maxrss: a child forked or vfork-spawned from
# this process would inherit this process's RSS high-water mark (Linux carries maxrss across
# exec), and this process holds the source layers. The launcher itself is ~10 MB (-I -S).
LAUNCHER = (
    "import os,sys\n"
    "pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ)\n"
    "_, st, ru = os.wait4(pid, 0)\n"
    "sys.stderr.write(f'\\nMAXRSS_KB {ru.ru_maxrss}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(st))\n"
)


def run_measured(cmds: list[list[str]], env: dict[str, str] | None = None) -> tuple[Run, str]:
    """Run commands one after another; wall time total, peak RSS max, output concatenated."""
    out = ""
    peak = 0
    start = time.perf_counter()
    for cmd in cmds:
        proc = subprocess.run(
            [sys.executable, "-I", "-S", "-c", LAUNCHER, *cmd],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        text = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[:4]}... failed ({proc.returncode}): {text[-2000:]}")
        out += text
        match = re.search(r"MAXRSS_KB (\d+)", proc.stderr)
        peak = max(peak, int(match.group(1)) if match else 0)
    return Run(time.perf_counter() - start, peak / 1024, None), out


def uploaded_bytes(server: RegistryServer, since: int) -> tuple[int, int]:
    """Bytes of blob uploads the registry committed (access log: PUT ...?digest= -> 201) after
    log offset ``since``; returns (bytes, new offset). Counts the same way for both tools."""
    text = server.log.read_bytes()
    total = 0
    with httpx.Client(base_url=server.url) as http:
        for line in text[since:].decode(errors="replace").splitlines():
            m = re.search(r'"PUT (/v2/(\S+)/blobs/uploads/\S*) HTTP/1\.1" 201', line)
            if m:
                digest = httpx.URL(m.group(1)).params.get("digest", "")
                head = http.head(f"/v2/{m.group(2)}/blobs/{digest}")
                total += int(head.headers.get("Content-Length", 0))
    return total, len(text)


def in_process(jobs: list[tuple[str, str, str]], insecure: list[str]) -> tuple[float, int]:
    """The library as the Pulumi provider uses it (long-lived process): wall time, bytes moved."""
    from artifact_mirrors.oci import Copier, CopyJob, Registries

    start = time.perf_counter()
    with Registries(insecure=insecure) as regs, Copier(regs) as copier:
        results = copier.copy_images([CopyJob(s, d, t) for s, d, t in jobs])
    return time.perf_counter() - start, sum(r.bytes_moved for r in results)


def build_image(
    p: Pusher, repo: str, tag: str, layers_per_platform: list[list[bytes]], signatures: bool
) -> tuple[str, dict[str, int]]:
    """Push a 3-platform index; returns (digest, {blob digest: size}) incl. signature blobs."""
    blobs: dict[str, int] = {}
    children = []
    for plat, layers in zip(PLATFORMS, layers_per_platform, strict=True):
        os_, arch, *variant = plat.split("/")
        cfg_doc: dict[str, Any] = {"os": os_, "architecture": arch, "config": {}}
        if variant:
            cfg_doc["variant"] = variant[0]
        cfg = p.blob(repo, dumps(cfg_doc), OCI_CONFIG)
        descs = [p.blob(repo, layer, OCI_LAYER) for layer in layers]
        for d in [cfg, *descs]:
            blobs[d["digest"]] = d["size"]
        raw = dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": descs})
        desc = p.manifest(repo, sha256(raw), raw, OCI_MANIFEST)
        desc["platform"] = {"os": os_, "architecture": arch}
        if variant:
            desc["platform"]["variant"] = variant[0]
        children.append(desc)
    index = push_index(p, repo, tag, children)["digest"]
    if signatures:
        for d in [index, *(c["digest"] for c in children)]:
            sig = json.loads(p.raw_manifest(repo, push_signature(p, repo, d)["digest"])[0])
            for desc in [sig["config"], *sig["layers"]]:
                blobs[desc["digest"]] = desc["size"]
    return index, blobs


@contextmanager
def registry(workdir: Path, name: str) -> Iterator[RegistryServer]:
    server = start_registry(workdir / f"{name}-{time.monotonic_ns()}", access_log=True)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


def ours_cmd(src: str, dst: str, insecure: list[str]) -> list[str]:
    flags = [x for h in insecure for x in ("--insecure", h)]
    return [sys.executable, "-m", "artifact_mirrors.cli_copy", "copy", src, dst, *flags, "--json"]


def skopeo_cmd(src: str, dst: str) -> list[str]:
    return [
        "skopeo", "copy", "--all", "--preserve-digests", "--src-tls-verify=false",
        "--dest-tls-verify=false", f"docker://{src}", f"docker://{dst}",
    ]  # fmt: skip


def check(ours: Run, output: str) -> None:
    """Our own bytes_moved must agree with what the registry saw."""
    if ours.bytes_moved != ours_bytes(output):
        print(
            f"WARNING: we reported {ours_bytes(output)} bytes, the registry saw {ours.bytes_moved}"
        )


def ours_bytes(output: str) -> int:
    total = 0
    for match in re.finditer(r'"bytes_moved":\s*(\d+)', output):
        total += int(match.group(1))
    return total


@dataclass
class Row:
    name: str
    ours: Run
    skopeo: Run
    missing: int
    lib_wall: float | None = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = ~300 MB index")
    parser.add_argument("--full", action="store_true", help="also the 1 GB single-layer check")
    parser.add_argument("--big-layer-mb", type=int, default=0, help="size of the RSS-check layer")
    args = parser.parse_args()
    if shutil.which("skopeo") is None:
        raise SystemExit("skopeo not found: apt-get install skopeo")
    os.chdir(ROOT)  # `python -m artifact_mirrors...` in the children
    big_mb = args.big_layer_mb or (1024 if args.full else 0)
    console = Console()
    layer_size = max(4096, int(10_000_000 * args.scale))
    # A private HOME: skopeo's blob-info cache must not remember other phases' blobs.
    skopeo_env = {**os.environ, "HOME": tempfile.mkdtemp(prefix="skopeo-home-")}
    rows: list[Row] = []

    with tempfile.TemporaryDirectory(prefix="copy-bench-") as tmp:
        work = Path(tmp)
        with registry(work, "src") as src_reg:
            p = Pusher(src_reg.url)
            console.print(f"pushing source: 3 platforms x 10 layers of {layer_size:,} bytes")
            base = [[os.urandom(layer_size) for _ in range(8)] for _ in PLATFORMS]
            layers = [[*b, os.urandom(layer_size), os.urandom(layer_size)] for b in base]
            index, sizes = build_image(p, "bench/app", "1.0", layers, signatures=True)
            del layers
            needed = sum(sizes.values())
            src = f"{src_reg.host}/bench/app@{index}"

            # -- cold + warm ----------------------------------------------------------------
            with (
                registry(work, "ours") as d_ours,
                registry(work, "skopeo") as d_sk,
                registry(work, "lib") as d_lib,
            ):
                insecure = [src_reg.host, d_ours.host, d_lib.host]
                dst_ours, dst_sk = f"{d_ours.host}/bench/app:1.0", f"{d_sk.host}/bench/app:1.0"
                lib_job = [(src, f"{d_lib.host}/bench/app", "1.0")]
                off_ours = off_sk = 0
                for phase, missing in (("cold copy (index + sigs)", needed), ("warm re-run", 0)):
                    ours, out = run_measured([ours_cmd(src, dst_ours, insecure)])
                    ours.bytes_moved, off_ours = uploaded_bytes(d_ours, off_ours)
                    check(ours, out)
                    sk, out = run_measured([skopeo_cmd(src, dst_sk)], skopeo_env)
                    sk.bytes_moved, off_sk = uploaded_bytes(d_sk, off_sk)
                    lib_wall, _ = in_process(lib_job, insecure)
                    rows.append(Row(phase, ours, sk, missing, lib_wall))

            # -- release: 10 images sharing base layers -------------------------------------
            console.print("pushing release: 10 images sharing 8 base layers per platform")
            release: list[tuple[str, str]] = []
            rel_sizes: dict[str, int] = {}
            small = max(4096, layer_size // 10)
            for i in range(10):
                per_plat = [[*b, os.urandom(small)] for b in base]
                digest, blobs = build_image(p, f"bench/img{i}", "17.0.1", per_plat, signatures=True)
                release.append((f"bench/img{i}", digest))
                rel_sizes.update(blobs)
            p.close()
            del base
            with (
                registry(work, "ours-rel") as d_ours,
                registry(work, "sk-rel") as d_sk,
                registry(work, "lib-rel") as d_lib,
            ):
                jobs = [
                    (f"{src_reg.host}/{r}@{d}", f"{d_ours.host}/{r}", "17.0.1") for r, d in release
                ]
                cmd = [sys.executable, "-c", RELEASE_SCRIPT, json.dumps(jobs),
                       json.dumps([src_reg.host, d_ours.host])]  # fmt: skip
                ours, out = run_measured([cmd])
                ours.bytes_moved, _ = uploaded_bytes(d_ours, 0)
                check(ours, out)
                sk, out = run_measured(
                    [
                        skopeo_cmd(f"{src_reg.host}/{r}@{d}", f"{d_sk.host}/{r}:17.0.1")
                        for r, d in release
                    ],
                    skopeo_env,
                )
                sk.bytes_moved, _ = uploaded_bytes(d_sk, 0)
                lib_jobs = [
                    (f"{src_reg.host}/{r}@{d}", f"{d_lib.host}/{r}", "17.0.1") for r, d in release
                ]
                lib_wall, _ = in_process(lib_jobs, [src_reg.host, d_lib.host])
                rows.append(
                    Row(
                        "release: 10 images, shared base",
                        ours,
                        sk,
                        sum(rel_sizes.values()),
                        lib_wall,
                    )
                )

            # -- peak RSS with one big layer ------------------------------------------------
            if big_mb:
                console.print(f"pushing one {big_mb} MB layer (streamed)")
                big_manifest, big_size = push_big_image(src_reg, big_mb)
                big_src = f"{src_reg.host}/bench/big@{big_manifest}"
                with registry(work, "ours-big") as d_ours, registry(work, "sk-big") as d_sk:
                    ours, out = run_measured(
                        [
                            ours_cmd(
                                big_src, f"{d_ours.host}/bench/big:1", [src_reg.host, d_ours.host]
                            )
                        ]
                    )
                    ours.bytes_moved, _ = uploaded_bytes(d_ours, 0)
                    check(ours, out)
                    sk, out = run_measured(
                        [skopeo_cmd(big_src, f"{d_sk.host}/bench/big:1")], skopeo_env
                    )
                    sk.bytes_moved, _ = uploaded_bytes(d_sk, 0)
                    rows.append(Row(f"single {big_mb} MB layer", ours, sk, big_size))

    table = Table(title=f"artifact-mirrors copy vs skopeo 1.9 (scale {args.scale}, 2 cores)")
    columns = ["scenario", "ours s (CLI)", "ours s (lib)", "skopeo s", "ratio CLI",
               "ratio lib", "MB moved ours", "MB moved skopeo", "MB missing", "RSS MB ours",
               "RSS MB skopeo"]  # fmt: skip
    for col in columns:
        table.add_column(col, justify="left" if col == "scenario" else "right")
    mb = 1 / (1 << 20)
    for row in rows:
        lib = row.lib_wall
        table.add_row(
            row.name,
            f"{row.ours.wall:.2f}",
            f"{lib:.2f}" if lib is not None else "-",
            f"{row.skopeo.wall:.2f}",
            f"{row.ours.wall / row.skopeo.wall:.2f}x",
            f"{lib / row.skopeo.wall:.2f}x" if lib is not None else "-",
            f"{(row.ours.bytes_moved or 0) * mb:.1f}",
            f"{(row.skopeo.bytes_moved or 0) * mb:.1f}",
            f"{row.missing * mb:.1f}",
            f"{row.ours.rss_mb:.0f}",
            f"{row.skopeo.rss_mb:.0f}",
        )
    console.print(table)
    console.print(
        "CLI = `python -m artifact_mirrors.cli_copy` in a subprocess (interpreter start and "
        "imports included, ~0.3 s); lib = the same copy in a long-lived process (how the Pulumi "
        "provider runs it), into its own fresh registry. MB moved = blob uploads the destination "
        "registry committed (its access log); MB missing = what the destination lacked."
    )


def push_big_image(server: RegistryServer, size_mb: int) -> tuple[str, int]:
    """One image with a single random layer of ``size_mb``, streamed (never whole in memory);
    returns (manifest digest, layer size)."""
    import hashlib

    import httpx

    http = httpx.Client(base_url=server.url, timeout=600)
    chunk = 4 << 20
    hasher = hashlib.sha256()
    seed = os.urandom(chunk)

    def body() -> Iterator[bytes]:
        # Incompressible but cheap: a random block, varied by a counter prefix per chunk.
        for i in range(size_mb * (1 << 20) // chunk):
            data = i.to_bytes(8, "big") + seed[8:]
            hasher.update(data)
            yield data

    start = http.post("/v2/bench/big/blobs/uploads/")
    patch = http.patch(start.headers["Location"], content=body())
    digest = "sha256:" + hasher.hexdigest()
    loc = httpx.URL(patch.headers["Location"]).copy_merge_params({"digest": digest})
    assert http.put(str(loc)).status_code == 201
    layer = {"mediaType": OCI_LAYER, "digest": digest, "size": size_mb << 20}
    cfg_raw = dumps({"os": "linux", "architecture": "amd64", "config": {}})
    p = Pusher(server.url)
    cfg = p.blob("bench/big", cfg_raw, OCI_CONFIG)
    raw = dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": [layer]})
    d = p.manifest("bench/big", "1", raw, OCI_MANIFEST)["digest"]
    p.close()
    http.close()
    return str(d), size_mb << 20


if __name__ == "__main__":
    main()
