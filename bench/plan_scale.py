"""Scale of `mirrors plan`: 40 releases (~10k resources) under Pulumi's mocks.

Generates a throw-away copy of the project whose releases/ holds N synthetic releases (every image,
every AMI edition), runs `mirrors plan --format json` on it in a subprocess, and prints wall time,
resources per second and the child's peak RSS. Target (foundation issue): under 60 s for 40
releases on a 2-core machine. Run: venv/bin/python bench/plan_scale.py [--releases 40]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
EDITIONS = [("oss", "x86_64", False), ("oss", "arm64", False), ("ent", "x86_64", False),
            ("ent", "arm64", False), ("ent", "x86_64", True), ("ent", "arm64", True)]  # fmt: skip


def synthetic_release(version: str, images: list[str]) -> str:
    lines = [f"version: {version}", "channel: stable", "images:"]
    for name in images:
        digest = hashlib.sha256(f"bench:{name}:{version}".encode()).hexdigest()
        lines += [f"  {name}:", f"    digest: sha256:{digest}"]
    lines.append("amis:")
    for edition, arch, fips in EDITIONS:
        ami = "ami-" + hashlib.sha256(f"{version}{edition}{arch}{fips}".encode()).hexdigest()[:17]
        name = f"teleport-{edition}-{version}-{arch}{'-fips' if fips else ''}-20250101-000000UTC"
        lines += [f"  - id: {ami}", f"    name: {name}", "    region: us-west-2",
                  f"    arch: {arch}", f"    edition: {edition}",
                  f"    fips: {'true' if fips else 'false'}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def make_project(dst: Path, releases: int) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", dst / "Pulumi.yaml")
    shutil.copytree(ROOT / "mirrors", dst / "mirrors")
    shutil.copytree(ROOT / "stacks", dst / "stacks")
    rel_dir = dst / "mirrors" / "releases"
    shutil.rmtree(rel_dir)
    rel_dir.mkdir()
    sys.path.insert(0, str(ROOT))
    from artifact_mirrors.spec.load import load_spec

    spec = load_spec(ROOT / "mirrors/destinations.yaml")
    assert spec is not None
    images = list(spec.images)
    for i in range(releases):
        version = f"{15 + i // 10}.{i % 10}.{i % 3}"
        (rel_dir / f"{version}.yaml").write_text(synthetic_release(version, images))


def run(releases: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp)
        make_project(proj, releases)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "artifact_mirrors", "plan", "--stack", "prod", "-f", "json"],
            cwd=proj, capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"mirrors plan failed:\n{proc.stderr}")
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        plan = json.loads(proc.stdout)
    resources = plan["summary"]["resources"]
    return {
        "releases": releases,
        "resources": resources,
        "wall_s": wall,
        "per_s": resources / wall,
        # ru_maxrss is the max over all waited-for children, in KiB on Linux.
        "rss_mb": max(rss, before) / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--releases", type=int, default=40)
    args = ap.parse_args()
    small = run(5)
    big = run(args.releases)
    table = Table(title="mirrors plan at scale (Pulumi mocks, one process)")
    for col in ("releases", "resources", "wall (s)", "resources/s", "peak RSS (MB)", "target"):
        table.add_column(col, justify="right")
    for r in (small, big):
        ok = "ok" if r["wall_s"] < 60 else "OVER 60 s"
        table.add_row(str(r["releases"]), str(r["resources"]), f"{r['wall_s']:.1f}",
                      f"{r['per_s']:.0f}", f"{r['rss_mb']:.0f}", f"< 60 s: {ok}")  # fmt: skip
    Console().print(table)
    scale = big["wall_s"] / small["wall_s"]
    growth = big["resources"] / small["resources"]
    Console().print(f"time grows {scale:.1f}x for {growth:.1f}x resources (linear = equal)")


if __name__ == "__main__":
    main()
