"""`make rehearse` (artifact_mirrors/rehearse.py) up to the Pulumi CLI step, as a user runs it:
real docker-registry servers and moto_server, the `mirrors` commands as subprocesses."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

STARTED = re.compile(r"^started (.+) on http://(127\.0\.0\.1:\d+) \(pid (\d+)\)$")


def env_without_pulumi() -> dict[str, str]:
    path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    path = [d for d in path if not (Path(d) / "pulumi").exists()]
    return {**os.environ, "PATH": os.pathsep.join(path), "PYTHONPATH": str(ROOT)}


def assert_all_gone(started: list[tuple[str, str, int]]) -> None:
    for name, address, pid in started:
        assert not Path(f"/proc/{pid}").exists(), f"{name} (pid {pid}) still running"
        host, port = address.split(":")
        with socket.socket() as s:
            assert s.connect_ex((host, int(port))) != 0, f"{name} still listens on {address}"


def started_in(lines: list[str]) -> list[tuple[str, str, int]]:
    return [(m[1], m[2], int(m[3])) for line in lines if (m := STARTED.match(line))]


def test_rehearsal_runs_up_to_the_pulumi_cli_and_leaves_nothing_running(tmp_path: Path) -> None:
    assert shutil.which("pulumi", path=env_without_pulumi()["PATH"]) is None
    proc = subprocess.run(
        [sys.executable, "-m", "artifact_mirrors.rehearse", "--workdir", str(tmp_path / "r")],
        env=env_without_pulumi(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = proc.stdout.splitlines()
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stdout[-3000:]
    started = started_in(lines)
    assert [name for name, _, _ in started] == [
        "first-party registry",
        "mirror registry hub",
        "mirror registry quay",
        "mirror registry gallery",
        "moto_server",
    ]
    steps = [line.split(":", 1)[0] for line in lines if line.startswith("==> ")]
    assert steps == [
        "==> seed the first-party sources",
        "==> validate the local spec",
        "==> pin 17.0.0",
        "==> pin 17.0.1",
        "==> plan",
        "==> plan for the pull request",
        "==> the outputs an update records",
        "==> no Pulumi CLI",
        *["==> mirrors copy (tbot-distroless release tags)"] * 2,
        *["==> mirrors copy (teleport-distroless release tags)"] * 2,
        *["==> mirrors copy (teleport-ent-distroless release tags)"] * 2,
        "==> mirrors copy (tbot-distroless floating tags)",
        "==> mirrors copy (teleport-distroless floating tags)",
        "==> mirrors copy (teleport-ent-distroless floating tags)",
        "==> verify the copy",
    ]
    assert (
        "wrote mirrors/releases/17.0.1.yaml: 3 images, 2 AMIs. Review with "
        "`mirrors plan --stack local --release 17.0.1 --format markdown`" in lines
    )
    pr = next(i for i, line in enumerate(lines) if line.startswith("==> plan for the pull"))
    assert lines[pr + 1].startswith(
        "  **2 releases** (17.0.0, 17.0.1) · 18 image tags on 3 registries · 8 AMI copies + 0 "
        "GovCloud transfers in 2 regions · 8 launch permissions"
    )
    assert any(line.strip() == "45 image tags verified: no drift" for line in lines)
    pids = ", ".join(str(pid) for _, _, pid in started)
    assert lines[-4:] == [
        f"stopped 5 processes it started (pids {pids})",
        "not run (the Pulumi CLI is not on PATH): pulumi login (a local file backend); "
        "pulumi up -s local; mirrors verify --stack local (AMIs included); the yank of 17.0.1, "
        "pulumi up, mirrors verify",
        "install the Pulumi CLI to rehearse them too: curl -fsSL https://get.pulumi.com | sh "
        "(https://www.pulumi.com/docs/install/)",
        "rehearsal done",
    ]
    assert_all_gone(started)
    stack = (tmp_path / "r/project/stacks/Pulumi.local.yaml").read_text(encoding="utf-8")
    assert "  artifact-mirrors:spec: mirrors/destinations.yaml\n" in stack


def test_an_interrupted_rehearsal_stops_what_it_started(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "artifact_mirrors.rehearse", "--workdir", str(tmp_path / "r")],
        env=env_without_pulumi(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("started mirror registry quay"):
                proc.send_signal(signal.SIGTERM)  # mid-start: two servers still to come
                break
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines += rest.splitlines()
    assert (proc.returncode, err) == (130, "")
    started = started_in(lines)
    assert 3 <= len(started) <= 5
    pids = ", ".join(str(pid) for _, _, pid in started)
    assert lines[-3:] == [
        "interrupted",
        f"stopped {len(started)} processes it started (pids {pids})",
        f"kept {tmp_path / 'r'} (commands.log has every command's output)",
    ]
    assert_all_gone(started)
