"""Real docker-registry servers on 127.0.0.1 and a test CA, for the OCI integration tests."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found on PATH: apt-get install {package} (CI installs it)")
    return path


@dataclass
class CertAuthority:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_ca(directory: Path) -> CertAuthority:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, made with openssl."""
    openssl = require_binary("openssl", "openssl")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "san.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=artifact-mirrors test CA", "-keyout", str(ca_key), "-out", str(ca_crt))  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", str(key), "-out", str(csr))  # fmt: skip
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(crt))  # fmt: skip
    return CertAuthority(ca_crt, crt, key)


@dataclass
class RegistryServer:
    host: str
    scheme: str
    proc: subprocess.Popen[bytes]
    root: Path

    @property
    def log(self) -> Path:
        return self.root / "registry.log"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_registry(
    root: Path,
    *,
    tls: CertAuthority | None = None,
    htpasswd: Path | None = None,
    access_log: bool = False,
    ready_verify: bool = True,
) -> RegistryServer:
    """``ready_verify=False``: the certificate names another host on purpose; the readiness probe
    still checks its chain, not its name."""
    binary = require_binary("docker-registry", "docker-registry")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    lines = [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        f"    disabled: {'false' if access_log else 'true'}",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {root / 'data'}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        "  secret: test-only-secret",
    ]
    if tls is not None:
        lines += ["  tls:", f"    certificate: {tls.server_cert}", f"    key: {tls.server_key}"]
    if htpasswd is not None:
        lines += ["auth:", "  htpasswd:", "    realm: test", f"    path: {htpasswd}"]
    config = root / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = (root / "registry.log").open("wb")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    scheme = "https" if tls else "http"
    server = RegistryServer(f"127.0.0.1:{port}", scheme, proc, root)
    verify: ssl.SSLContext | bool = True
    if tls:
        verify = ssl.create_default_context(cafile=str(tls.ca_cert))
        verify.check_hostname = ready_verify
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"docker-registry exited with {proc.returncode}: "
                f"{(root / 'registry.log').read_text()[-2000:]}"
            )
        try:
            resp = httpx.get(f"{server.url}/v2/", verify=verify, timeout=2)
            if resp.status_code in (200, 401):
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"docker-registry on {server.host} did not answer /v2/ in 30 s")
        time.sleep(0.05)


def make_htpasswd(path: Path, user: str, password: str) -> Path:
    htpasswd = require_binary("htpasswd", "apache2-utils")
    # docker-registry only accepts bcrypt entries.
    subprocess.run([htpasswd, "-Bbc", str(path), user, password], check=True, capture_output=True)
    return path
