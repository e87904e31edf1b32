"""Registry copy: artifact-mirrors vs `skopeo copy --all --preserve-digests` (run manually).

Starts its own docker-registry servers on 127.0.0.1, pushes a 3-platform OCI index with ~30
random (incompressible) layers, ~300 MB at --scale 1, plus cosign-style signature tags, and
measures in one run, each tool in its own subprocess (wall time, peak RSS from os.wait4):

- cold: copy into an empty registry;
- warm: the same copy again (destination complete);
- release, as `pulumi up` runs it: 10 images (2 platforms, a shared base layer per platform, a
  unique layer per image, a cosign .sig) mirrored to 3 registries. Ours: the program rendered for
  a local spec and every ImageTag created through the real `python -m pulumi.dynamic` server, 4
  calls at a time in dependency order (bench/production.py); skopeo: one command per (image,
  mirror) and per .sig tag, its blob-info cache private to this run (as root it lives in
  /var/lib/containers/cache, shared by every run on the machine). Then the same again (warm).
  The registries' access logs count source bytes read, bytes written per mirror, mounts and
  requests; the provider server's peak RSS is its VmHWM;
- with --full (or --big-layer): one image with a single 1 GB layer, for peak RSS.

Fresh destination registries per phase and per tool keep either tool from mounting what the other
uploaded. Targets: cold <= 1.0x skopeo, warm <= 0.5x skopeo, bytes moved = bytes missing, peak
RSS < 150 MB with a 1 GB layer; release: source read <= 1.05 x unique bytes, written / missing
= 1.00 per mirror, wall <= 0.6x skopeo, warm <= 0.2x skopeo's warm.

    venv/bin/python bench/copy_vs_skopeo.py --scale 0.1      # quick
    venv/bin/python bench/copy_vs_skopeo.py --full           # 300 MB + 1 GB layer
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
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

from artifact_mirrors.oci.env import INSECURE_ENV  # noqa: E402
from bench.production import (  # noqa: E402
    create_in_dependency_order,
    image_tags,
    write_local_project,
)
from tests.integration.oci.access import traffic  # noqa: E402
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
from tests.providers.harness import provider_server  # noqa: E402


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
    return [sys.executable, "-m", "artifact_mirrors.cli.copy", "copy", src, dst, *flags, "--json"]


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
    console = Console(width=max(120, shutil.get_terminal_size().columns))  # tables to paste
    layer_size = max(4096, int(10_000_000 * args.scale))
    # skopeo's blob-info cache, private to this run (see skopeo_isolated).
    skopeo_cache = tempfile.mkdtemp(prefix="skopeo-cache-")
    rows: list[Row] = []
    release_rows: list[ReleaseRow] = []

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
                    sk, out = run_measured(
                        [skopeo_isolated(work, [skopeo_cmd(src, dst_sk)], skopeo_cache)]
                    )
                    sk.bytes_moved, off_sk = uploaded_bytes(d_sk, off_sk)
                    lib_wall, _ = in_process(lib_job, insecure)
                    rows.append(Row(phase, ours, sk, missing, lib_wall))

            # -- release, as pulumi up runs it -------------------------------------------
            console.print("pushing release: 10 images x 2 platforms sharing a base layer each")
            release = build_release(src_reg, args.scale)
            release_rows = bench_release(work, src_reg, release, skopeo_cache)
            p.close()

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
                        [
                            skopeo_isolated(
                                work,
                                [skopeo_cmd(big_src, f"{d_sk.host}/bench/big:1")],
                                skopeo_cache,
                            )
                        ]
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
    print_release(console, release_rows, args.scale)
    console.print(
        "CLI = `python -m artifact_mirrors.cli.copy` in a subprocess (interpreter start and "
        "imports included, ~0.3 s); lib = the same copy in a long-lived process (how the Pulumi "
        "provider runs it), into its own fresh registry. MB moved = blob uploads the destination "
        "registry committed (its access log); MB missing = what the destination lacked."
    )
    shutil.rmtree(skopeo_cache, ignore_errors=True)


@dataclass
class Release:
    images: dict[str, str]  # source repository -> index digest
    blobs: dict[str, int]  # every unique blob (layers, configs, signature blobs) -> size
    signatures: dict[str, str]  # source repository -> its index's cosign .sig tag

    @property
    def unique(self) -> int:
        return sum(self.blobs.values())


def build_release(server: RegistryServer, scale: float, n: int = 10) -> Release:
    """``n`` images, 2 platforms each: a 30 MB base layer per platform shared by all, a unique
    5-10 MB layer per image and platform, a cosign .sig on each index (at --scale 1)."""
    p = Pusher(server.url)
    base = {arch: os.urandom(int(30_000_000 * scale)) for arch in ("amd64", "arm64")}
    out = Release({}, {}, {})
    for i in range(n):
        repo = f"gravitational/image{i}"
        children = []
        for arch, layer in base.items():
            cfg = p.blob(repo, dumps({"os": "linux", "architecture": arch, "n": i}), OCI_CONFIG)
            unique = os.urandom(int((5_000_000 + 500_000 * i) * scale))
            layers = [p.blob(repo, data, OCI_LAYER) for data in (layer, unique)]
            raw = dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg,
                         "layers": layers})  # fmt: skip
            desc = p.manifest(repo, sha256(raw), raw, OCI_MANIFEST)
            desc["platform"] = {"os": "linux", "architecture": arch}
            children.append(desc)
            for d in (cfg, *layers):
                out.blobs[d["digest"]] = d["size"]
        index = push_index(p, repo, "17.0.1", children)["digest"]
        sig = json.loads(p.raw_manifest(repo, push_signature(p, repo, index)["digest"])[0])
        for d in (sig["config"], *sig["layers"]):
            out.blobs[d["digest"]] = d["size"]
        out.images[repo] = index
        out.signatures[repo] = index.replace(":", "-") + ".sig"
    p.close()
    return out


@dataclass
class ReleaseRow:
    name: str
    wall: float
    source_read: int
    written: list[int]
    missing: list[int]
    mounted: int
    requests: int
    rss_mb: float


def _measure(
    name: str,
    wall: float,
    rss_mb: float,
    src: RegistryServer,
    src_offset: int,
    mirrors: list[RegistryServer],
    offsets: list[int],
    release: Release,
    missing: list[int],
) -> tuple[ReleaseRow, int, list[int]]:
    read, src_after = traffic(src, src_offset)
    written, mounted, requests, after = [], 0, read.requests, []
    for m, off in zip(mirrors, offsets, strict=True):
        t, end = traffic(m, off)
        written.append(sum(release.blobs.get(d, 0) for d in t.committed))
        mounted += t.mounted
        requests += t.requests
        after.append(end)
    row = ReleaseRow(name, wall, read.blob_bytes_served, written, missing, mounted, requests,
                     rss_mb)  # fmt: skip
    return row, src_after, after


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_release(
    work: Path, src: RegistryServer, release: Release, skopeo_cache: str
) -> list[ReleaseRow]:
    rows: list[ReleaseRow] = []
    with registry(work, "m0") as a, registry(work, "m1") as b, registry(work, "m2") as c:
        mirrors = [a, b, c]
        project = work / "project"
        project.mkdir()
        config = write_local_project(project, src.host, [m.host for m in mirrors], release.images)
        records = image_tags(project, config)
        assert len(records) == len(release.images) * len(mirrors), len(records)
        env = {INSECURE_ENV: src.host, "DOCKER_CONFIG": str(work)}
        _, src_off = traffic(src)
        offs = [traffic(m)[1] for m in mirrors]
        full = [release.unique] * len(mirrors)
        for phase, missing in (("ours: pulumi up path (cold)", full),
                               ("ours: re-run (warm)", [0] * 3)):  # fmt: skip
            # A fresh provider server per update, as each `pulumi up` starts its own.
            with provider_server(env) as server:
                start = time.perf_counter()
                create_in_dependency_order(server, records)
                wall = time.perf_counter() - start
                rss = _vm_hwm_mb(server.process.pid)
            row, src_off, offs = _measure(phase, wall, rss, src, src_off, mirrors, offs,
                                          release, missing)  # fmt: skip
            rows.append(row)

    with registry(work, "s0") as a, registry(work, "s1") as b, registry(work, "s2") as c:
        mirrors = [a, b, c]
        cmds: list[list[str]] = []
        for m in mirrors:
            for repo, digest in release.images.items():
                dst = f"{m.host}/mirror/{repo.rsplit('/', 1)[1]}"
                cmds.append(skopeo_cmd(f"{src.host}/{repo}@{digest}", f"{dst}:17.0.1"))
                sig = release.signatures[repo]
                cmds.append(skopeo_cmd(f"{src.host}/{repo}:{sig}", f"{dst}:{sig}"))
        _, src_off = traffic(src)
        offs = [traffic(m)[1] for m in mirrors]
        full = [release.unique] * len(mirrors)
        for phase, missing in (("skopeo, 1 command per image, mirror, .sig (cold)", full),
                               ("skopeo re-run (warm)", [0] * 3)):  # fmt: skip
            run, _ = run_measured([skopeo_isolated(work, cmds, skopeo_cache)])
            row, src_off, offs = _measure(phase, run.wall, run.rss_mb, src, src_off, mirrors,
                                          offs, release, missing)  # fmt: skip
            rows.append(row)
    return rows


def skopeo_isolated(work: Path, cmds: list[list[str]], cache: str) -> list[str]:
    """A command running ``cmds`` one after another with skopeo's blob-info cache in ``cache``:
    as root in a private mount namespace over /var/lib/containers/cache (where root's cache
    lives, shared by every run on the machine); otherwise HOME (~/.local/share/containers)."""
    script = work / f"skopeo-{time.monotonic_ns()}.sh"
    script.write_text("set -e\n" + "\n".join(shlex.join(c) for c in cmds) + "\n")
    if os.geteuid() == 0 and shutil.which("unshare"):
        inner = (f"mkdir -p /var/lib/containers/cache && mount --bind {shlex.quote(cache)} "
                 f"/var/lib/containers/cache && exec sh {shlex.quote(str(script))}")  # fmt: skip
        return ["unshare", "-m", "sh", "-c", inner]
    return ["env", f"HOME={cache}", "sh", str(script)]


def print_release(console: Console, rows: list[ReleaseRow], scale: float) -> None:
    if not rows:
        return
    by = {r.name: r for r in rows}
    sk_cold = next(r for r in rows if r.name.startswith("skopeo") and "cold" in r.name)
    sk_warm = next(r for r in rows if r.name.startswith("skopeo") and "warm" in r.name)
    unique = rows[0].missing[0] or sk_cold.missing[0]
    table = Table(title=f"release: 10 images x 3 mirrors, as pulumi up runs it (scale {scale})")
    for col in ("path", "wall s", "vs skopeo", "source read / U", "written / missing per mirror",
                "mounted", "requests", "peak RSS MB"):  # fmt: skip
        table.add_column(col, justify="left" if col == "path" else "right")
    for name, r in by.items():
        peer = sk_warm if "warm" in name else sk_cold
        ratios = [f"{w / m:.2f}" if m else f"{w / (1 << 20):.0f} MB" for w, m in
                  zip(r.written, r.missing, strict=True)]  # fmt: skip
        table.add_row(
            name,
            f"{r.wall:.2f}",
            f"{r.wall / peer.wall:.2f}x",
            f"{r.source_read / unique:.2f}",
            " / ".join(ratios),
            str(r.mounted),
            str(r.requests),
            f"{r.rss_mb:.0f}",
        )
    console.print(table)
    console.print(
        f"U = {unique / (1 << 20):.1f} MB of unique blobs. Targets: source read <= 1.05 x U, "
        "written / missing = 1.00 per mirror, cold <= 0.6x skopeo, warm <= 0.2x skopeo's warm. "
        "Ours: every ImageTag Check+Create through `python -m pulumi.dynamic`, 4 at a time; its "
        "peak RSS is the provider server's VmHWM. skopeo: sequential commands, peak RSS of one."
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
