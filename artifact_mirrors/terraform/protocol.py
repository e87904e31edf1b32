"""The first-party registry, read through the Provider Registry Protocol.

Discovery (``/.well-known/terraform.json``, key ``providers.v1``), then
``:namespace/:type/versions`` and ``:namespace/:type/:version/download/:os/:arch``, exactly the
requests ``terraform init`` makes; URLs in the answers are resolved against the document they
came from, as Terraform does (``resp.Request.URL.ResolveReference`` in
internal/getproviders/registry_client.go). TLS is always verified (a private CA via ca_file).
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urljoin

import httpx

TIMEOUT = httpx.Timeout(30.0, read=120.0)
MAX_DOCUMENT = 4 << 20  # protocol documents are a few KiB; refuse anything absurd


class SourceError(Exception):
    """The source registry could not be read (network, HTTP status, bad document)."""


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    ascii_armor: str


@dataclass(frozen=True)
class DownloadDocument:
    url: str  # where the document was read
    protocols: tuple[str, ...]
    os: str
    arch: str
    filename: str
    download_url: str
    shasums_url: str
    shasums_signature_url: str
    shasum: str
    signing_keys: tuple[SigningKey, ...]


def verify_context(ca_file: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    return ctx


class SourceRegistry:
    def __init__(self, base: str, *, ca_file: str | None = None) -> None:
        self.base = base.rstrip("/")
        self.client = httpx.Client(
            verify=verify_context(ca_file), timeout=TIMEOUT, follow_redirects=True
        )
        self._providers_base: str | None = None

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> SourceRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, url: str) -> httpx.Response:
        try:
            resp = self.client.get(url)
        except httpx.HTTPError as exc:
            raise SourceError(f"{url}: {exc.__class__.__name__}: {exc}") from None
        return resp

    def _json(self, url: str) -> tuple[str, Any]:
        resp = self._get(url)
        if resp.status_code != 200:
            raise SourceError(f"{url}: HTTP {resp.status_code}")
        if len(resp.content) > MAX_DOCUMENT:
            raise SourceError(f"{url}: document larger than {MAX_DOCUMENT} bytes")
        try:
            return str(resp.url), resp.json()
        except ValueError:
            raise SourceError(f"{url}: not a JSON document") from None

    def providers_base(self) -> str:
        if self._providers_base is None:
            url, doc = self._json(f"{self.base}/.well-known/terraform.json")
            value = doc.get("providers.v1") if isinstance(doc, dict) else None
            if not isinstance(value, str):
                raise SourceError(f"{url}: no providers.v1 service (not a provider registry)")
            base = urljoin(url, value)
            self._providers_base = base if base.endswith("/") else base + "/"
        return self._providers_base

    def versions(self, namespace: str, type_: str) -> dict[str, list[str]]:
        """version -> its platforms (``os/arch``)."""
        url, doc = self._json(f"{self.providers_base()}{namespace}/{type_}/versions")
        out: dict[str, list[str]] = {}
        for entry in doc.get("versions", []) if isinstance(doc, dict) else []:
            platforms = [f"{p.get('os')}/{p.get('arch')}" for p in entry.get("platforms", [])]
            out[str(entry.get("version"))] = platforms
        if not out and not (isinstance(doc, dict) and "versions" in doc):
            raise SourceError(f"{url}: no 'versions' list")
        return out

    def download(
        self, namespace: str, type_: str, version: str, os_: str, arch: str
    ) -> DownloadDocument | None:
        """The download document, or None when the registry has no such package (404)."""
        url = f"{self.providers_base()}{namespace}/{type_}/{version}/download/{os_}/{arch}"
        if self._get(url).status_code == 404:
            return None
        final, doc = self._json(url)
        try:
            keys = tuple(
                SigningKey(str(k["key_id"]).upper(), str(k["ascii_armor"]))
                for k in doc.get("signing_keys", {}).get("gpg_public_keys", [])
            )
            return DownloadDocument(
                url=final,
                protocols=tuple(str(p) for p in doc.get("protocols", [])),
                os=str(doc["os"]),
                arch=str(doc["arch"]),
                filename=str(doc["filename"]),
                download_url=urljoin(final, str(doc["download_url"])),
                shasums_url=urljoin(final, str(doc["shasums_url"])),
                shasums_signature_url=urljoin(final, str(doc["shasums_signature_url"])),
                shasum=str(doc["shasum"]).lower(),
                signing_keys=keys,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise SourceError(f"{final}: malformed download document ({exc!r})") from None

    def small_file(self, url: str, limit: int = 1 << 20) -> bytes:
        resp = self._get(url)
        if resp.status_code != 200:
            raise SourceError(f"{url}: HTTP {resp.status_code}")
        if len(resp.content) > limit:
            raise SourceError(f"{url}: larger than {limit} bytes")
        return resp.content

    def stream_to(self, url: str, out: IO[bytes]) -> str:
        """Write ``url``'s bytes to ``out`` as they arrive; return their sha256 (hex)."""
        return stream_to(self.client, url, out)


def stream_to(client: httpx.Client, url: str, out: IO[bytes]) -> str:
    h = hashlib.sha256()
    try:
        with client.stream("GET", url) as resp:
            if resp.status_code != 200:
                raise SourceError(f"{url}: HTTP {resp.status_code}")
            # iter_raw: the bytes as served, never decoded (a provider zip is never re-encoded).
            for chunk in resp.iter_raw(1 << 20):
                h.update(chunk)
                out.write(chunk)
    except httpx.HTTPError as exc:
        raise SourceError(f"{url}: {exc.__class__.__name__}: {exc}") from None
    return h.hexdigest()


@contextmanager
def client_for(ca_file: str | None) -> Iterator[httpx.Client]:
    with httpx.Client(verify=verify_context(ca_file), timeout=TIMEOUT, follow_redirects=True) as c:
        yield c
