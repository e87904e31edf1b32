"""`mirrors release add` for Helm charts: read index.yaml, check the bytes, then pin.

For an HTTP chart repository: the chart's entry in ``index.yaml`` at the release's chart version
must exist and name the chart; the ``.tgz`` it points at must hash to the entry's ``digest`` and
be a chart whose ``Chart.yaml`` has the same name and version; a ``.prov`` next to it is pinned
when the repository serves one. With a keyring in the spec (``source.keyring``) the ``.prov``
must be there, signed by a key of the keyring, and vouch for the ``.tgz``'s sha256
(:mod:`artifact_mirrors.charts.provenance`, as ``helm verify``). The pinned ``digest`` is the
manifest of the artifact :mod:`artifact_mirrors.charts.artifact` builds, so the plan shows it
before anything is pushed.
For an OCI source the pin is the source's own manifest digest, copied as is. Any failure raises
a located one-line error and nothing is pinned.

:func:`fetch_artifact` is the provider's half: the same reads and checks against the pins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from artifact_mirrors.charts import provenance
from artifact_mirrors.charts.artifact import (
    CONFIG_MEDIA_TYPE,
    ChartArtifact,
    ChartFileError,
    build,
    read_chart_yaml,
)
from artifact_mirrors.charts.source import ChartRepository, IndexEntry, SourceError, sha256_hex
from artifact_mirrors.command_errors import OperationFailedError, located
from artifact_mirrors.gpg import SignatureError
from artifact_mirrors.oci.client import Registries
from artifact_mirrors.oci.env import insecure_registries
from artifact_mirrors.oci.errors import MirrorError
from artifact_mirrors.oci.reference import parse_reference
from artifact_mirrors.spec.chart_checks import merge_defaults
from artifact_mirrors.spec.errors import PathPart, format_path
from artifact_mirrors.spec.model import Chart, ReleaseChart, Spec
from artifact_mirrors.spec.yamlio import load_document


class ChartError(MirrorError):
    """A chart source that does not match its pins (the provider's one-line failure)."""


@dataclass(frozen=True)
class SpecPlace:
    """Where a chart is in the spec file, for located errors."""

    file: Path
    index: int

    def where(self, *path: PathPart) -> tuple[str, str]:
        full: tuple[PathPart, ...] = ("charts", self.index, *path)
        try:
            doc = load_document(self.file, what="mirror spec")
            # A value filled from defaults.chart is located at the defaults block, as on load.
            merge_defaults(doc.root)
            line = doc.line_of(full)
        except Exception:
            line = None
        return (f"{self.file}:{line}" if line else str(self.file)), format_path(full)


def _fail(
    place: SpecPlace, path: tuple[PathPart, ...], problem: str, got: object, hint: str
) -> OperationFailedError:
    where, dotted = place.where(*path)
    return OperationFailedError(located(where, problem, got, hint, path=dotted))


def _entry(chart: Chart, version: str, index: dict[str, list[IndexEntry]]) -> IndexEntry | None:
    return next((e for e in index.get(chart.chart, []) if e.version == version), None)


def resolve_http(chart: Chart, version: str, place: SpecPlace) -> ReleaseChart:
    assert chart.url is not None
    try:
        with ChartRepository(chart.url, ca_file=chart.ca_file) as repo:
            index = repo.index()
            entry = _entry(chart, version, index)
            if entry is None:
                known = [e.version for e in index.get(chart.chart, [])][:5]
                raise _fail(
                    place,
                    ("source", "url"),
                    f"index.yaml has no chart {chart.chart} at version {version}",
                    chart.url,
                    (
                        "versions there: " + ", ".join(known)
                        if known
                        else "charts there: " + (", ".join(sorted(index)[:8]) or "none")
                    )
                    + "; check that the release's chart was published",
                )
            if entry.name != chart.chart:
                raise _fail(
                    place,
                    ("source", "chart"),
                    f"index.yaml lists {chart.chart} {version} under another chart name",
                    entry.name,
                    "the index entry and the chart disagree; ask the vendor to re-index",
                )
            if not entry.urls:
                raise _fail(
                    place,
                    ("source", "url"),
                    f"index.yaml gives no URL for {chart.chart} {version}",
                    chart.url,
                    "ask the vendor to re-index the repository",
                )
            url = entry.urls[0]
            tgz = repo.get(url)
            got = sha256_hex(tgz)
            if got != entry.digest:
                raise _fail(
                    place,
                    ("source", "url"),
                    f"{url} does not hash to the index.yaml digest {entry.digest or '(none)'}",
                    f"sha256:{got}",
                    "nothing was pinned: the repository serves other bytes than its index "
                    "names; do not pin until the vendor fixes it",
                )
            prov_url = url + ".prov"
            prov = repo.optional(prov_url)
    except SourceError as exc:
        raise _fail(
            place,
            ("source", "url"),
            "cannot read the chart repository",
            str(exc),
            "check the URL and the network; TLS is verified (source.tls.ca_file for a private CA)",
        ) from None
    try:
        meta = read_chart_yaml(tgz)
        artifact = build(tgz, prov, entry.created)
    except ChartFileError as exc:
        raise _fail(
            place,
            ("source", "url"),
            f"{url} is not a Helm chart: {exc}",
            f"sha256:{got}",
            "the index points at a file that helm could not install; ask the vendor",
        ) from None
    if (meta.get("name"), str(meta.get("version"))) != (chart.chart, version):
        raise _fail(
            place,
            ("source", "chart"),
            f"{url} holds another chart than index.yaml names ({chart.chart} {version})",
            f"{meta.get('name')} {meta.get('version')}",
            "the index entry and the chart's Chart.yaml disagree; ask the vendor to re-index",
        )
    if chart.keyring_data is not None:
        _check_provenance(chart, place, url, got, prov_url, prov)
    return ReleaseChart(
        name=chart.name,
        version=version,
        digest=artifact.digest,
        url=url,
        sha256=got,
        prov_url=prov_url if prov is not None else None,
        prov_sha256=sha256_hex(prov) if prov is not None else None,
        created=entry.created,
    )


def _check_provenance(
    chart: Chart, place: SpecPlace, url: str, sha256: str, prov_url: str, prov: bytes | None
) -> None:
    """The spec's keyring says the chart is signed: its .prov must be there, signed by a key of
    the keyring, and vouch for exactly the .tgz read (as ``helm verify``)."""
    assert chart.keyring_data is not None
    if prov is None:
        raise _fail(
            place,
            ("source", "keyring"),
            f"{url} has no provenance file",
            f"{prov_url}: HTTP 404",
            "nothing was pinned: the keyring says the chart is signed; ask the vendor for the "
            ".prov, or drop source.keyring for an unsigned chart",
        )
    archive = urlsplit(url).path.rsplit("/", 1)[-1]
    try:
        provenance.verify(prov, archive, sha256, chart.keyring_data)
    except SignatureError as exc:
        raise _fail(
            place,
            ("source", "keyring"),
            f"{prov_url} is not validly signed by a key of {chart.keyring}",
            str(exc),
            "nothing was pinned: the provenance file was altered or signed by another key; "
            "check the vendor's key before adding it to the keyring",
        ) from None
    except provenance.ProvenanceError as exc:
        raise _fail(
            place,
            ("source", "url"),
            f"{prov_url}: {exc.problem}",
            exc.got,
            f"the .tgz hashes to sha256:{sha256}; nothing was pinned: the signature vouches for "
            "other bytes than the repository serves; ask the vendor to re-sign",
        ) from None


def resolve_oci(
    chart: Chart, version: str, place: SpecPlace, registries: Registries
) -> ReleaseChart:
    assert chart.oci is not None
    tag = version.replace("+", "_")
    ref = parse_reference(f"{chart.oci}:{tag}")
    try:
        client = registries.client(ref.registry)
        head = client.head_manifest(ref.repository, tag)
        if head is None:
            raise _fail(
                place,
                ("source", "oci"),
                f"the source has no tag {tag}",
                chart.oci,
                "check that the release's chart was published",
            )
        manifest = client.get_manifest(ref.repository, head.digest)
    except MirrorError as exc:
        raise _fail(
            place,
            ("source", "oci"),
            "cannot read the chart's OCI repository",
            str(exc),
            "check the reference, the network and the credentials",
        ) from None
    config = manifest.config
    if config is None or config.media_type != CONFIG_MEDIA_TYPE:
        raise _fail(
            place,
            ("source", "oci"),
            f"{chart.oci}:{tag} is not a Helm chart",
            config.media_type if config else manifest.media_type,
            f"a chart's config has media type {CONFIG_MEDIA_TYPE}",
        )
    return ReleaseChart(name=chart.name, version=version, digest=manifest.digest)


def resolve_all(spec: Spec, release: str) -> tuple[ReleaseChart, ...]:
    out: list[ReleaseChart] = []
    # Plain HTTP only for MIRRORS_INSECURE_REGISTRIES (local stand-ins), as for images.
    with Registries(insecure=insecure_registries()) as registries:
        for i, chart in enumerate(spec.charts.values()):
            place = SpecPlace(spec.file, i)
            version = chart.chart_version(release)
            if chart.url is not None:
                out.append(resolve_http(chart, version, place))
            else:
                out.append(resolve_oci(chart, version, place, registries))
    return tuple(out)


def fetch_artifact(
    *,
    url: str,
    sha256: str,
    prov_url: str | None,
    prov_sha256: str | None,
    created: str,
    digest: str,
    ca_file: str | None = None,
) -> ChartArtifact:
    """The pinned chart, read from its HTTP repository and built; every hash checked."""
    try:
        with ChartRepository(url.rsplit("/", 1)[0], ca_file=ca_file) as repo:
            tgz = repo.get(url)
            prov = repo.get(prov_url) if prov_url else None
    except SourceError as exc:
        raise ChartError(f"cannot read the chart: {exc}") from None
    if (got := sha256_hex(tgz)) != sha256:
        raise ChartError(f"{url}: content hashes to sha256:{got}, pinned sha256:{sha256}")
    if prov is not None and prov_url and (got := sha256_hex(prov)) != prov_sha256:
        raise ChartError(f"{prov_url}: content hashes to sha256:{got}, pinned sha256:{prov_sha256}")
    try:
        artifact = build(tgz, prov, created)
    except ChartFileError as exc:
        raise ChartError(f"{url}: not a Helm chart: {exc}") from None
    if artifact.digest != digest:
        raise ChartError(f"{url}: builds manifest {artifact.digest}, pinned {digest}")
    return artifact
