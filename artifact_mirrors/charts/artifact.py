"""The OCI artifact Helm pushes for a chart, built byte for byte, without the clock.

helm.sh/helm/v4 ``pkg/registry`` (client.go ``Push``, chart.go): the config blob is
``json.Marshal`` of the chart's ``Chart.yaml`` metadata (``chart.Metadata``, pkg/chart/v2/
metadata.go: Go struct field order, ``omitempty``, sanitised by ``Metadata.Validate``), the chart
layer is the ``.tgz`` unchanged, the provenance layer the ``.prov`` unchanged, layers sorted by
digest, and the manifest carries OCI annotations from the metadata plus
``org.opencontainers.image.created``. ``helm push`` sets that to the push time (so two pushes
differ); here it is the chart's ``created`` time from ``index.yaml``, so every mirror gets the
same manifest digest and the plan can name it before anything is pushed.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from artifact_mirrors.oci.media import OCI_MANIFEST, digest_of

CONFIG_MEDIA_TYPE = "application/vnd.cncf.helm.config.v1+json"
CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
PROV_MEDIA_TYPE = "application/vnd.cncf.helm.chart.provenance.v1.prov"
MAX_CHART_YAML = 1 << 20


def _safe_load(data: bytes | str) -> Any:
    return YAML(typ="safe", pure=True).load(data)


class ChartFileError(Exception):
    """The bytes are not a Helm chart archive (or its Chart.yaml cannot be read)."""


# chart.Metadata's fields in declaration order with their JSON names (all ``omitempty``).
_METADATA_FIELDS = (
    "name", "home", "sources", "version", "description", "keywords", "maintainers", "icon",
    "apiVersion", "condition", "tags", "appVersion", "deprecated", "annotations",
    "kubeVersion", "dependencies", "type",
)  # fmt: skip
_SANITISED = ("name", "description", "home", "icon", "condition", "tags", "appVersion",
              "kubeVersion")  # fmt: skip
_MAINTAINER_FIELDS = ("name", "email", "url")
# chart.Dependency: name and repository have no omitempty.
_DEPENDENCY_FIELDS = (
    ("name", False), ("version", True), ("repository", False), ("condition", True),
    ("tags", True), ("enabled", True), ("import-values", True), ("alias", True),
)  # fmt: skip


def _sanitise(value: str) -> str:
    """Go's ``sanitizeString``: every Unicode space becomes ' ', non-printable runes go."""
    out = []
    for ch in value:
        if ch.isspace():
            out.append(" ")
        elif unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ":
            out.append(ch)
    return "".join(out)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def go_json(value: Any) -> bytes:
    """``encoding/json.Marshal``'s bytes for plain data: compact, UTF-8, and HTML-safe escapes
    of ``<``, ``>``, ``&``, U+2028 and U+2029 (those characters occur only inside strings)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(ch, esc)
    return text.encode("utf-8")


def read_chart_yaml(tgz: bytes) -> dict[str, Any]:
    """The ``Chart.yaml`` of a chart archive, as Helm's loader finds it: the first path element
    of every entry is the chart's directory (pkg/chart/loader/archive/archive.go)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(tgz)), mode="r:") as tar:
            for member in tar:
                parts = member.name.split("/")
                if member.isfile() and len(parts) == 2 and parts[1] == "Chart.yaml":
                    if member.size > MAX_CHART_YAML:
                        raise ChartFileError("Chart.yaml is larger than 1 MiB")
                    fh = tar.extractfile(member)
                    assert fh is not None
                    raw = fh.read()
                    break
            else:
                raise ChartFileError("the archive has no Chart.yaml")
    except (OSError, EOFError, tarfile.TarError, gzip.BadGzipFile) as exc:
        raise ChartFileError(f"not a gzipped tar archive ({exc.__class__.__name__})") from None
    try:
        doc = _safe_load(raw)
    except YAMLError as exc:
        raise ChartFileError(f"Chart.yaml is not YAML ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict) or not doc.get("name") or not doc.get("version"):
        raise ChartFileError("Chart.yaml has no name or version")
    return doc


def metadata(doc: dict[str, Any]) -> dict[str, Any]:
    """``Chart.yaml`` -> chart.Metadata as Helm serialises it, keys in Go's field order."""
    out: dict[str, Any] = {}
    for key in _METADATA_FIELDS:
        value = doc.get(key)
        if key == "apiVersion" and not value:
            value = "v1"  # the loader's default for charts without one (Helm 2)
        if key in ("sources", "keywords"):
            items = [_sanitise(_text(v)) for v in value or []]
            if items:
                out[key] = items
        elif key == "maintainers":
            people = []
            for m in value or []:
                m = m or {}
                person = {f: _sanitise(_text(m.get(f))) for f in _MAINTAINER_FIELDS}
                people.append({f: v for f, v in person.items() if v})
            if people:
                out[key] = people
        elif key == "deprecated":
            if value is True:
                out[key] = True
        elif key == "annotations":
            if value:
                out[key] = {str(k): _text(v) for k, v in sorted(value.items(), key=str)}
        elif key == "dependencies":
            deps = [_dependency(d or {}) for d in value or []]
            if deps:
                out[key] = deps
        else:
            text = _text(value)
            if key in _SANITISED:
                text = _sanitise(text)
            if text:
                out[key] = text
    return out


def _dependency(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, omit in _DEPENDENCY_FIELDS:
        value = d.get(key)
        if key == "tags":
            value = [_sanitise(_text(v)) for v in value or []]
        elif key == "enabled":
            value = value is True
        elif key == "import-values":
            value = value or []
        else:
            value = _text(value)
            if key in ("name", "version", "repository", "condition"):
                value = _sanitise(value)
        if omit and not value:
            continue
        out[key] = value
    return out


_FRACTION = re.compile(r"\.[0-9]+")


def created_annotation(created: str) -> str:
    """An index entry's ``created`` (RFC 3339, maybe nanoseconds) as Helm writes the annotation:
    RFC 3339 in UTC, whole seconds (``time.RFC3339``)."""
    text = _FRACTION.sub("", created.strip(), count=1).replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ChartFileError(f"created time {created!r} is not RFC 3339") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def oci_annotations(meta: dict[str, Any], created: str) -> dict[str, str]:
    """pkg/registry/chart.go ``generateOCIAnnotations``; Go sorts map keys when marshalling."""
    out: dict[str, str] = {}

    def put(key: str, value: str) -> None:
        if value.strip():
            out[key] = value

    put("org.opencontainers.image.description", meta.get("description", ""))
    put("org.opencontainers.image.title", meta.get("name", ""))
    put("org.opencontainers.image.version", meta.get("version", ""))
    put("org.opencontainers.image.url", meta.get("home", ""))
    put("org.opencontainers.image.created", created)
    if meta.get("sources"):
        put("org.opencontainers.image.source", meta["sources"][0])
    people = meta.get("maintainers") or []
    if people:
        parts = []
        for m in people:
            part = m.get("name", "")
            if m.get("email"):
                part += f" ({m['email']})"
            parts.append(part)
        put("org.opencontainers.image.authors", ", ".join(parts))
    immutable = ("org.opencontainers.image.version", "org.opencontainers.image.title")
    for key, value in (meta.get("annotations") or {}).items():
        if key not in immutable:
            out[key] = value
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.data)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True)
class ChartArtifact:
    name: str
    version: str
    config: Blob
    layers: tuple[Blob, ...]  # sorted by digest, as Helm sorts them
    manifest: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)

    @property
    def media_type(self) -> str:
        return OCI_MANIFEST

    def blobs(self) -> tuple[Blob, ...]:
        return (self.config, *self.layers)


def build(tgz: bytes, prov: bytes | None, created: str) -> ChartArtifact:
    """The artifact for one chart version (``created``: the index entry's time)."""
    meta = metadata(read_chart_yaml(tgz))
    config = Blob(CONFIG_MEDIA_TYPE, go_json(meta))
    layers = [Blob(CHART_MEDIA_TYPE, tgz)]
    if prov is not None:
        layers.append(Blob(PROV_MEDIA_TYPE, prov))
    layers.sort(key=lambda b: b.digest)
    manifest = {
        "schemaVersion": 2,
        "config": config.descriptor(),
        "layers": [b.descriptor() for b in layers],
        "annotations": oci_annotations(meta, created_annotation(created)),
    }
    return ChartArtifact(
        name=meta["name"],
        version=meta["version"],
        config=config,
        layers=tuple(layers),
        manifest=go_json(manifest),
    )
