"""A classic HTTP chart repository: ``index.yaml`` plus one ``.tgz`` (and ``.prov``) per version.

The index format is Helm's ``repo.IndexFile`` (helm.sh/helm/v4 pkg/repo/v1/index.go): ``entries``
maps a chart name to its versions, each with ``urls`` (relative URLs resolve against the
repository URL), ``digest`` (sha256 hex of the ``.tgz``) and ``created``. Helm looks for a
provenance file at the chart URL plus ``.prov`` (pkg/downloader/chart_downloader.go).
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

TIMEOUT = httpx.Timeout(30.0, read=120.0)
MAX_INDEX = 64 << 20  # a big public index (bitnami's) is ~20 MB
MAX_CHART = 64 << 20  # charts are KiB to a few MiB; Helm's own limit is in the same range


def _safe_load(data: bytes | str) -> Any:
    # "base": every scalar stays the string the index wrote (created keeps its nanoseconds).
    return YAML(typ="base", pure=True).load(data)


class SourceError(Exception):
    """The chart repository could not be read (network, HTTP status, bad document)."""


class NotFound(SourceError):
    """The repository answered 404 for a file (a missing ``.prov`` is not an error)."""


@dataclass(frozen=True)
class IndexEntry:
    name: str
    version: str
    urls: tuple[str, ...]  # absolute
    digest: str  # sha256 hex of the .tgz ("" when the index has none)
    created: str  # as written in the index (RFC 3339, often with nanoseconds)


def _verify(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


def _base(url: str) -> str:
    return url.rstrip("/") + "/"


def parse_index(text: str, url: str) -> dict[str, list[IndexEntry]]:
    """``index.yaml`` -> chart name -> its entries (in the index's order)."""
    try:
        doc = _safe_load(text)
    except YAMLError as exc:
        raise SourceError(f"{url}: not YAML ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), dict):
        raise SourceError(f"{url}: not a chart repository index (no entries)")
    base = url.rsplit("/", 1)[0] + "/"
    out: dict[str, list[IndexEntry]] = {}
    for key, versions in doc["entries"].items():
        for raw in versions or []:
            if not isinstance(raw, dict):
                continue
            out.setdefault(str(key), []).append(_entry(str(key), raw, base))
    return out


def _entry(key: str, raw: dict[str, Any], base: str) -> IndexEntry:
    created = raw.get("created", "")
    return IndexEntry(
        name=str(raw.get("name", key)),
        version=str(raw.get("version", "")),
        urls=tuple(urljoin(base, str(u)) for u in raw.get("urls") or []),
        digest=str(raw.get("digest") or "").lower(),
        # PyYAML turns an unquoted timestamp into a datetime; keep the text form.
        created=created.isoformat() if hasattr(created, "isoformat") else str(created),
    )


class ChartRepository:
    """Reads one HTTP chart repository; TLS is verified (a private CA through ``ca_file``)."""

    def __init__(self, url: str, *, ca_file: str | None = None) -> None:
        self.url = _base(url)
        self.client = httpx.Client(verify=_verify(ca_file), timeout=TIMEOUT, follow_redirects=True)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ChartRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, limit: int = MAX_CHART) -> bytes:
        try:
            with self.client.stream("GET", url) as resp:
                if resp.status_code == 404:
                    raise NotFound(f"{url}: HTTP 404")
                if resp.status_code != 200:
                    raise SourceError(f"{url}: HTTP {resp.status_code}")
                body = bytearray()
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise SourceError(f"{url}: larger than {limit >> 20} MiB")
                return bytes(body)
        except httpx.HTTPError as exc:
            reason = str(exc) or exc.__class__.__name__
            raise SourceError(f"{url}: {exc.__class__.__name__}: {reason}") from None

    def index(self) -> dict[str, list[IndexEntry]]:
        url = urljoin(self.url, "index.yaml")
        return parse_index(self.get(url, MAX_INDEX).decode("utf-8", "replace"), url)

    def optional(self, url: str) -> bytes | None:
        try:
            return self.get(url)
        except NotFound:
            return None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
