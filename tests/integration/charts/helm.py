"""The real Helm v4 client (helm-sdkpy in the side virtualenv .venv-helm), driven by subprocess.

helm-sdkpy needs Python >= 3.12 and the main virtualenv may be 3.11, so each call runs
helm_driver.py with the side venv's Python (`make helm-venv` builds it; `make test` depends on
it, so CI always has it). Locally without it the tests skip and say how to build it; under CI
(``CI`` set) a missing side venv is a failure, never a skip.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HELM_PYTHON = ROOT / ".venv-helm" / "bin" / "python"
DRIVER = Path(__file__).with_name("helm_driver.py")


class HelmError(Exception):
    pass


class Helm:
    def __init__(self, python: Path) -> None:
        self.python = python

    def _run(self, **req: object) -> str:
        proc = subprocess.run(
            [str(self.python), str(DRIVER), json.dumps(req)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")},
        )
        if proc.returncode != 0:
            raise HelmError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
        result: str = json.loads(proc.stdout.strip().splitlines()[-1])["result"]
        return result

    def package(self, chart_dir: Path, dest: Path) -> Path:
        return Path(self._run(op="package", chart_dir=str(chart_dir), dest=str(dest)))

    def push(self, tgz: Path, remote: str) -> None:
        self._run(op="push", tgz=str(tgz), remote=remote, plain_http=True)

    def show(self, ref: str) -> str:
        """``helm show chart oci://...``: pulls through Helm's registry client."""
        return self._run(op="show", ref=ref, plain_http=True)


def real_helm() -> Helm:
    if not HELM_PYTHON.exists():
        reason = f"the real-Helm side virtualenv {HELM_PYTHON} is missing: run `make helm-venv`"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI builds it through `make test`)")
        pytest.skip(reason)
    return Helm(HELM_PYTHON)
