"""Fixtures: a real HTTP chart repository on 127.0.0.1 (charts built by the real `helm package`),
two docker-registry mirrors and a third registry for the `helm push` reference."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.charts.helm import Helm, real_helm
from tests.integration.oci.servers import RegistryServer, start_registry

# Two charts x two versions; beta 1.0.0 also has a provenance file next to its .tgz.
CHARTS = {"alpha": ("1.0.0", "1.1.0"), "beta": ("1.0.0", "1.1.0")}
CREATED = "2026-11-30T12:34:56.123456789Z"  # as `helm repo index` writes it (nanoseconds)
PROV = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n(test provenance)\n"


@dataclass
class ChartRepo:
    url: str
    root: Path
    files: dict[str, Path] = field(default_factory=dict)  # "alpha-1.0.0" -> .tgz
    hits: Counter[str] = field(default_factory=Counter)  # GETs per path

    def index(self, entries: dict[str, list[dict[str, object]]]) -> None:
        lines = ["apiVersion: v1", "entries:"]
        for name, versions in entries.items():
            lines.append(f"  {name}:")
            for v in versions:
                lines.append(f"  - name: {v['name']}")
                for key in ("version", "created", "digest", "apiVersion"):
                    lines.append(f"    {key}: {v[key]}")
                lines.append("    urls:")
                lines += [f"    - {u}" for u in v["urls"]]  # type: ignore[attr-defined]
        lines.append(f"generated: {CREATED}")
        (self.root / "index.yaml").write_text("\n".join(lines) + "\n")

    def entry(self, name: str, version: str, /, **override: object) -> dict[str, object]:
        tgz = self.files[f"{name}-{version}"]
        out: dict[str, object] = {
            "name": name,
            "version": version,
            "created": CREATED,
            "digest": hashlib.sha256(tgz.read_bytes()).hexdigest(),
            "apiVersion": "v2",
            "urls": [f"charts/{tgz.name}"],
        }
        return {**out, **override}

    def default_index(self) -> None:
        self.index({n: [self.entry(n, v) for v in vs] for n, vs in CHARTS.items()})


def write_chart(directory: Path, name: str, version: str) -> Path:
    chart = directory / f"{name}-{version}-src"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        f'apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: "{version}"\n'
        f"description: The {name} chart <for tests> & more\nhome: https://example.com/{name}\n"
        "maintainers:\n  - name: Mirror Tests\n    email: tests@example.com\n"
    )
    (chart / "values.yaml").write_text(f"replicas: 1\nimage: example/{name}:{version}\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
    )
    return chart


class _Counting(http.server.SimpleHTTPRequestHandler):
    hits: Counter[str]

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def helm() -> Helm:
    return real_helm()


@pytest.fixture(scope="module")
def chart_repo(tmp_path_factory: pytest.TempPathFactory, helm: Helm) -> Iterator[ChartRepo]:
    root = tmp_path_factory.mktemp("chart-repo")
    build = tmp_path_factory.mktemp("chart-src")
    (root / "charts").mkdir()
    repo = ChartRepo("", root)
    for name, versions in CHARTS.items():
        for version in versions:
            tgz = helm.package(write_chart(build, name, version), root / "charts")
            repo.files[f"{name}-{version}"] = tgz
    (root / "charts" / "beta-1.0.0.tgz.prov").write_bytes(PROV)
    # Not a chart at all, and a real chart listed under another name (for the bad-input tests).
    (root / "charts" / "broken-1.0.0.tgz").write_bytes(b"this is not a gzipped tarball\n")
    repo.files["broken-1.0.0"] = root / "charts" / "broken-1.0.0.tgz"
    repo.default_index()

    class Handler(_Counting):
        hits = repo.hits

        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, directory=str(root), **kw)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    repo.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield repo
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def mirrors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RegistryServer]]:
    servers = [start_registry(tmp_path_factory.mktemp(f"mirror-{i}")) for i in range(2)]
    yield servers
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def reference_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    server = start_registry(tmp_path_factory.mktemp("helm-push"))
    yield server
    server.stop()
