"""Scale of `mirrors plan`: 40 releases (~10k resources) under Pulumi's mocks.

Generates a throw-away copy of the project whose releases/ holds N synthetic releases (every image,
every AMI edition), runs `mirrors plan --format json` on it in a subprocess, and prints wall time,
resources per second and the child's peak RSS. Targets (issue 13): 40 releases in <= 30 s and
<= 600 MB peak RSS on a 2-core machine, the same plan as before. In the same run it also plans
with the code of ``--baseline`` (default: main, extracted with `git archive`), checks that both
plans report the same resources, and prints the ratio, so both figures share the machine's load;
and it plans the 40 manifests with a window of 3 majors x 5 patches (what a stack holds with
issue 13's window). Run: venv/bin/python bench/plan_scale.py [--releases 40] [--baseline REV]
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
from typing import Any

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


def make_project(dst: Path, releases: int, window: str = "", code: Path = ROOT) -> None:
    """A project with the spec and stacks of ``code``'s tree and ``releases`` synthetic manifests
    of images and AMIs (main passes the baseline's tree for every row: the same inputs, so the
    plans can be compared; this code reads an older spec, an older code may not read this one)."""
    shutil.copy(code / "Pulumi.yaml", dst / "Pulumi.yaml")
    shutil.copytree(code / "mirrors", dst / "mirrors")
    shutil.copytree(code / "stacks", dst / "stacks")
    rel_dir = dst / "mirrors" / "releases"
    shutil.rmtree(rel_dir)
    rel_dir.mkdir()
    sys.path.insert(0, str(ROOT))
    from artifact_mirrors.spec.load import load_spec

    spec = load_spec(code / "mirrors/destinations.yaml")
    assert spec is not None
    images = list(spec.images)
    for i in range(releases):
        version = f"{15 + i // 10}.{i % 10}.{i % 3}"
        (rel_dir / f"{version}.yaml").write_text(synthetic_release(version, images))
    if window:
        with (dst / "mirrors/destinations.yaml").open("a", encoding="utf-8") as fh:
            fh.write(window)


def normal(plan: dict[str, object]) -> list[str]:
    """What the plan reports, independent of registration order (the SDK registers from a
    thread pool; main reports that order, this code the program's) and of the order of
    dependency lists."""
    rows = []
    for r in plan["resources"]:  # type: ignore[attr-defined]
        r = dict(r)
        r["depends_on"] = sorted(r["depends_on"])
        r["property_dependencies"] = {k: sorted(v) for k, v in r["property_dependencies"].items()}
        rows.append(json.dumps(r, sort_keys=True))
    return sorted(rows)


def run(releases: int, code: Path, window: str, inputs: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp)
        make_project(proj, releases, window, inputs)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "artifact_mirrors", "plan", "--stack", "prod", "-f", "json"],
            cwd=proj, capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONPATH": str(code)},
        )  # fmt: skip
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"mirrors plan failed:\n{proc.stderr}")
        plan = json.loads(proc.stdout)
    # ru_maxrss (KiB on Linux) is the max over all waited-for children: measure() runs each
    # plan from its own helper process, so this is that one plan's peak.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss_kb = usage.ru_maxrss
    resources = plan["summary"]["resources"]
    return {
        "releases": releases,
        "in_plan": plan["summary"]["releases"],
        "resources": resources,
        "wall_s": wall,
        # CPU seconds of the plan (user + system): what the code costs whatever the machine's
        # load (wall time includes waiting for a core when other work shares it).
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "per_s": resources / wall,
        "rss_mb": rss_kb / 1024,
        "normal": normal(plan),
    }


def measure(args: list[str]) -> dict[str, Any]:
    """One `run` in a fresh helper process, so RUSAGE_CHILDREN is that plan's own peak."""
    proc = subprocess.run(
        [sys.executable, __file__, "--one", json.dumps(args)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"plan_scale {args}: {proc.stderr.strip()}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def baseline_tree(rev: str, dst: Path) -> Path:
    """The project's code at ``rev`` (git archive), to plan with in the same run."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True)
    return dst


WINDOW = "window: {majors: 3, patches: 5}\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--releases", type=int, default=40)
    ap.add_argument("--baseline", default="main", help="git revision to compare with")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        releases, code, window, inputs = json.loads(args.one)
        print(json.dumps(run(releases, Path(code), window, Path(inputs))))
        return
    console = Console(width=140)
    with tempfile.TemporaryDirectory() as tmp:
        base_code = baseline_tree(args.baseline, Path(tmp))
        rows = [
            ("today (" + args.baseline + ")", measure([args.releases, str(base_code), "", tmp])),
            ("now", measure([args.releases, str(ROOT), "", tmp])),
            ("now, window 3x5", measure([args.releases, str(ROOT), WINDOW, tmp])),
        ]
    today, now = rows[0][1], rows[1][1]
    table = Table(title=f"mirrors plan of {args.releases} release manifests (Pulumi mocks)")
    for col in ("code", "releases in plan", "resources", "wall (s)", "CPU (s)", "resources/s",
                "peak RSS (MB)", "<= 30 s", "<= 600 MB"):  # fmt: skip
        table.add_column(col, justify="right")
    for name, r in rows:
        table.add_row(name, str(r["in_plan"]), str(r["resources"]), f"{r['wall_s']:.1f}",
                      f"{r['cpu_s']:.1f}", f"{r['per_s']:.0f}", f"{r['rss_mb']:.0f}",
                      "ok" if r["wall_s"] <= 30 else "OVER",
                      "ok" if r["rss_mb"] <= 600 else "OVER")  # fmt: skip
    console.print(table)
    same = today["normal"] == now["normal"]
    console.print(
        f"now / today: wall {now['wall_s'] / today['wall_s']:.2f}x, "
        f"CPU {now['cpu_s'] / today['cpu_s']:.2f}x, "
        f"peak RSS {now['rss_mb'] / today['rss_mb']:.2f}x; "
        f"same resources reported: {'yes' if same else 'NO'}"
    )
    load = os.getloadavg()
    console.print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs")
    if not same:
        # Name what differs: a change of a resource's inputs between the two codes is expected
        # when it is the point of a commit (say so in its message), never from speed work.
        only = sorted(set(today["normal"]) ^ set(now["normal"]))
        urns = sorted({json.loads(row)["urn"] for row in only})
        console.print(f"{len(urns)} resources differ, e.g.:")
        for urn in urns[:5]:
            console.print(f"  {urn}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
