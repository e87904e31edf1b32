"""A first-party Terraform provider registry for the tests, and HTTPS sites for the mirrors.

- a GPG key made by the test (Debian ``gnupg``), in a private GNUPGHOME;
- a tiny provider zip per platform, its ``.sums`` (sha256sum format) and a detached binary
  signature ``.sums.sig``, as Teleport publishes them (one sums file per zip);
- the Provider Registry Protocol documents naming them (absolute URLs, like a real registry);
- :class:`HttpsSite`: a threaded HTTPS server on 127.0.0.1 with the test CA (see
  tests/integration/oci/servers.py), serving either a dict of files or an S3 bucket prefix
  (as CloudFront serves the mirror bucket: body and Content-Type of each object, 404 when
  missing).
"""

from __future__ import annotations

import hashlib
import io
import json
import ssl
import subprocess
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.integration.oci.servers import CertAuthority, require_binary

NAMESPACE = "testvendor"
TYPE = "demo"

Lookup = Callable[[str], "tuple[bytes, str] | None"]


class HttpsSite:
    """GET-only HTTPS server; ``lookup(path) -> (body, content type)`` or None for 404."""

    def __init__(self, tls: CertAuthority, lookup: Lookup) -> None:
        self.lookup = lookup
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = site.lookup(self.path.split("?", 1)[0])
                if found is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body, content_type = found
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(tls.server_cert), str(tls.server_key))
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        # Terraform needs a host name in a provider address; localhost is in the test cert.
        return f"localhost:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def s3_lookup(s3: Any, bucket: str, prefix: str) -> Lookup:
    def lookup(path: str) -> tuple[bytes, str] | None:
        key = "/".join(p for p in (prefix, path.lstrip("/")) if p)
        try:
            obj = s3.get_object(Bucket=bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            return None
        return obj["Body"].read(), obj.get("ContentType", "binary/octet-stream")

    return lookup


@dataclass
class Gpg:
    home: Path
    key_id: str = ""
    armor: str = ""

    def run(self, *args: str, data: bytes | None = None) -> bytes:
        gpg = require_binary("gpg", "gnupg")
        proc = subprocess.run(
            [gpg, "--homedir", str(self.home), "--batch", "--pinentry-mode", "loopback",
             "--passphrase", "", *args],
            input=data, capture_output=True, check=True,
        )  # fmt: skip
        return proc.stdout

    @classmethod
    def create(cls, home: Path, uid: str, algo: str = "rsa2048") -> Gpg:
        home.mkdir(mode=0o700, parents=True)
        g = cls(home)
        # RSA by default: Terraform 1.0.3's openpgp cannot read ed25519 keys
        # (test_terraform_shared_site.py shows it).
        g.run("--quick-gen-key", uid, algo, "sign", "never")
        colons = g.run("--list-keys", "--with-colons").decode()
        g.key_id = next(
            line.split(":")[4] for line in colons.splitlines() if line.startswith("pub")
        )
        g.armor = g.run("--armor", "--export", g.key_id).decode()
        return g

    def sign(self, data: bytes) -> bytes:
        return self.run("--detach-sign", "--local-user", self.key_id, "--output", "-", data=data)


def provider_zip(version: str, platform: str, type_: str = TYPE) -> bytes:
    """A provider package: one executable, named as Terraform looks for it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(f"terraform-provider-{type_}_v{version}", (2024, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        z.writestr(info, f"#!/bin/sh\n# {type_} {version} {platform}\necho test provider\n")
    return buf.getvalue()


@dataclass
class SourceRegistry:
    """The vendor's registry: documents and files under one HTTPS site."""

    gpg: Gpg
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    versions: dict[str, list[str]] = field(default_factory=dict)
    base_url: str = ""

    def lookup(self, path: str) -> tuple[bytes, str] | None:
        return self.files.get(path)

    def publish(self, version: str, platforms: list[str]) -> None:
        self.versions[version] = platforms
        for platform in platforms:
            os_, arch = platform.split("/")
            name = f"terraform-provider-{TYPE}_{version}_{os_}_{arch}.zip"
            data = provider_zip(version, platform)
            sha = hashlib.sha256(data).hexdigest()
            sums = f"{sha}  {name}\n".encode()
            self.files[f"/store/{name}"] = (data, "application/zip")
            self.files[f"/store/{name}.sums"] = (sums, "text/plain")
            self.files[f"/store/{name}.sums.sig"] = (
                self.gpg.sign(sums),
                "application/octet-stream",
            )
            doc = {
                "protocols": ["5.0"],
                "os": os_,
                "arch": arch,
                "filename": name,
                "download_url": f"{self.base_url}/store/{name}",
                "shasums_url": f"{self.base_url}/store/{name}.sums",
                "shasums_signature_url": f"{self.base_url}/store/{name}.sums.sig",
                "shasum": sha,
                "signing_keys": {
                    "gpg_public_keys": [{"key_id": self.gpg.key_id, "ascii_armor": self.gpg.armor}]
                },
            }
            path = f"/{NAMESPACE}/{TYPE}/{version}/download/{os_}/{arch}"
            self.files[path] = (json.dumps(doc).encode(), "application/json")
        listing = {
            "versions": [
                {
                    "version": v,
                    "protocols": ["5.0"],
                    "platforms": [{"os": p.split("/")[0], "arch": p.split("/")[1]} for p in ps],
                }
                for v, ps in self.versions.items()
            ]
        }
        self.files[f"/{NAMESPACE}/{TYPE}/versions"] = (
            json.dumps(listing).encode(),
            "application/json",
        )
        # Teleport's shape: the protocol documents at the site root.
        self.files["/.well-known/terraform.json"] = (b'{"providers.v1": "/"}', "application/json")

    def zip_of(self, version: str, platform: str) -> bytes:
        os_, arch = platform.split("/")
        return self.files[f"/store/terraform-provider-{TYPE}_{version}_{os_}_{arch}.zip"][0]
