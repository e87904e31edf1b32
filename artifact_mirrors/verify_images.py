"""`mirrors verify`, image half: does every mirrored tag still point where the stack put it?

Inputs are the stack outputs (``pulumi stack output --json``) and the spec plus manifests:

- ``releases.<version>.images``: ``{"<repository>:<tag>": digest}`` (components/release.py), and
  ``releases.<version>.yanked``;
- ``floating_tags``: ``{"<repository>:<tag>": {release, digest, published}}``
  (components/program.py);
- the spec says which registry a repository belongs to (credentials, CA file, plain HTTP) and the
  image's first-party source (for ``--deep``).

Checks, one HEAD per tag (HEAD is free of Docker Hub's pull quota,
https://docs.docker.com/docker-hub/usage/pulls/):

- release tag of a live release: resolves to the recorded digest (else ``missing`` / ``moved``);
- release tag of a yanked release (outputs or manifest say so): absent;
- floating tag: published -> its recorded digest; unpublished -> absent.

``deep``, once per (registry, repository, digest) that passed: the mirror serves every manifest
of the tree (index and children) with the source's exact bytes, and every cosign
``.sig/.att/.sbom`` tag the source has for those manifests exists at the mirror with the same
digest (the copier copies them all: artifact_mirrors/oci/copy.py). An image with a ``verify:``
policy also has its signature verified at every mirror (artifact_mirrors/oci/signatures.py, the
``.sig`` tag and sigstore bundle referrers the mirror serves): each verdict is reported
(:class:`SignatureReport`); an invalid one is an error when the policy requires a signature, a
warning when it only reports.

Warnings (exit 0): tags the manifests ask for that the outputs do not list, floating tags the
manifests would move, a deployed digest that differs from the manifest. All mean "the stack is
behind the repository: run pulumi preview", not that a mirror drifted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from artifact_mirrors.aws.types import Finding, Severity
from artifact_mirrors.charts.artifact import (
    CHART_MEDIA_TYPE,
    CONFIG_MEDIA_TYPE,
    PROV_MEDIA_TYPE,
    ChartFileError,
    go_json,
    metadata,
    read_chart_yaml,
)
from artifact_mirrors.charts.source import MAX_CHART
from artifact_mirrors.command_errors import BadInputError, located
from artifact_mirrors.floating import compute_floating
from artifact_mirrors.oci import ops
from artifact_mirrors.oci.client import Registries, RegistryClient
from artifact_mirrors.oci.copy import COSIGN_SUFFIXES, cosign_tag
from artifact_mirrors.oci.env import insecure_registries
from artifact_mirrors.oci.errors import MirrorError
from artifact_mirrors.oci.media import Descriptor, digest_of
from artifact_mirrors.oci.reference import parse_reference, validate_digest
from artifact_mirrors.oci.settings import ConfigLookup, registries_for
from artifact_mirrors.oci.signatures import check_policy
from artifact_mirrors.spec.model import Image, Project, Registry, ReleaseChart, VerifyPolicy
from artifact_mirrors.window import windowed

if TYPE_CHECKING:
    from rich.table import Table

KIND = "image"
CHART_KIND = "chart"
UNKNOWN = "-"  # image / registry name of a repository the spec does not list

CHECK_TAG = "tag"
CHECK_YANKED = "yanked"
CHECK_FLOATING = "floating"
CHECK_MANIFEST = "manifest"
CHECK_SIGNATURE = "signature"
CHECK_DEPLOYED = "deployed"
CHECK_CONTENT = "content"  # a chart's .tgz layer
CHECK_PROVENANCE = "provenance"  # a chart's .prov layer
CHECK_CONFIG = "config"  # a chart's config blob

ABSENT = "absent"
MISSING = "missing"
NOT_DEPLOYED = "not deployed: run pulumi preview"


@dataclass(frozen=True)
class ExpectedTag:
    """What `mirrors verify` expects of one mirrored tag."""

    release: str  # the release it belongs to (floating tags: the release it points at)
    image: str  # the spec's image name, or "-"
    registry: str  # the spec's registry name, or "-"
    repository: str  # as in the outputs, e.g. docker.io/gravitational/teleport-distroless
    tag: str
    digest: str
    present: bool  # False: the tag must not exist (yanked release, unpublished floating tag)
    floating: bool
    source: str | None = None  # the first-party repository (None: not in the spec)
    signatures: bool = True
    verify: VerifyPolicy | None = None  # the image's signature policy
    chart: bool = False  # a Helm chart's tag (``image`` is then the spec's chart name)
    chart_pin: ReleaseChart | None = None  # the release manifest's pin of that chart (--deep)
    chart_keyring: tuple[str, bytes] | None = None  # the chart's source.keyring (file, keys)

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def check(self) -> str:
        if self.floating:
            return CHECK_FLOATING
        return CHECK_TAG if self.present else CHECK_YANKED


def _finding(
    t: ExpectedTag,
    severity: Severity,
    check: str,
    expected: str,
    actual: str,
    mirror: str | None = None,
) -> Finding:
    return Finding(
        severity,
        t.release,
        t.image,
        t.registry,
        mirror or t.reference,
        check,
        expected,
        actual,
        kind=CHART_KIND if t.chart else KIND,
    )


# ---- expectations from the outputs and the spec --------------------------------------------------

Where = tuple[Registry, Image]


def spec_repositories(project: Project) -> dict[str, Where]:
    """Destination repository (as the outputs name it) -> its registry and image in the spec."""
    spec = project.spec
    out: dict[str, Where] = {}
    for image in spec.images.values():
        for name in image.registries:
            reg = spec.registries[name]
            out[reg.repository(image.repository)] = (reg, image)
    return out


def _split(ref: object, where: str, path: str) -> tuple[str, str]:
    hint = "keys read REPOSITORY:TAG, e.g. docker.io/gravitational/teleport:17.0.1"
    if not isinstance(ref, str):
        raise BadInputError(located(where, "not a REPOSITORY:TAG reference", ref, hint, path=path))
    try:
        parsed = parse_reference(ref)
    except MirrorError as exc:
        raise BadInputError(located(where, str(exc), ref, hint, path=path)) from None
    if parsed.tag is None or parsed.digest is not None:
        raise BadInputError(located(where, "not a REPOSITORY:TAG reference", ref, hint, path=path))
    return ref[: -len(parsed.tag) - 1], parsed.tag


def _digest(value: object, where: str, path: str) -> str:
    hint = "run `pulumi up` to finish the copy"
    if not isinstance(value, str):
        raise BadInputError(located(where, "not a digest", value, hint, path=path))
    try:
        return validate_digest(value)
    except MirrorError:
        raise BadInputError(located(where, "not a digest", value, hint, path=path)) from None


def _mapping(value: object, where: str, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadInputError(located(where, "must be a mapping", value, "see README", path=path))
    return value


def _published(value: object, where: str, path: str) -> bool:
    # components/program.py exports "true"/"false" strings; accept real booleans too.
    if value in (True, "true"):
        return True
    if value in (False, "false"):
        return False
    raise BadInputError(located(where, "must be true or false", value, "see README", path=path))


def _expected(
    index: Mapping[str, Where],
    release: str,
    repository: str,
    tag: str,
    digest: str,
    *,
    present: bool,
    floating: bool,
) -> ExpectedTag:
    found = index.get(repository)
    if found is None:
        return ExpectedTag(
            release, UNKNOWN, UNKNOWN, repository, tag, digest, present, floating, None, False
        )
    reg, image = found
    return ExpectedTag(
        release,
        image.name,
        reg.name,
        repository,
        tag,
        digest,
        present,
        floating,
        image.source,
        image.signatures,
        image.verify,
    )


def image_expectations(
    project: Project, outputs: Any, where: str
) -> tuple[list[ExpectedTag], list[Finding]]:
    """Every tag the outputs record, plus warnings where the manifests have moved on.

    ``outputs`` has passed :func:`artifact_mirrors.verify_cmd.parse_outputs` (``releases`` is a
    mapping of mappings); every other shape problem is a located exit-2 error.
    """
    index = spec_repositories(project)
    expected: list[ExpectedTag] = []
    notes: list[Finding] = []
    for version, rec in sorted(outputs["releases"].items()):
        version = str(version)
        if "images" not in rec:
            continue
        manifest = project.release(version)
        yanked = rec.get("yanked") is True or (manifest is not None and manifest.yanked)
        images = _mapping(rec["images"], where, f"releases.{version}.images")
        for ref, value in images.items():
            path = f"releases.{version}.images.{ref}"
            repository, tag = _split(ref, where, path)
            t = _expected(
                index,
                version,
                repository,
                tag,
                _digest(value, where, path),
                present=not yanked,
                floating=False,
            )
            expected.append(t)
            pinned = manifest.images.get(t.image) if manifest is not None else None
            if pinned is not None and pinned.digest != t.digest:
                notes.append(
                    _finding(
                        t,
                        Severity.WARNING,
                        CHECK_DEPLOYED,
                        f"{pinned.digest} (manifest)",
                        f"{t.digest} deployed: run pulumi preview",
                    )
                )
        # What the manifest asks for that the stack does not list: not deployed (yet).
        for name in manifest.images if manifest is not None else ():
            image = project.spec.images.get(name)
            for reg_name in image.registries if image is not None else ():
                assert image is not None
                reg = project.spec.registries[reg_name]
                ref = f"{reg.repository(image.repository)}:{version}"
                if ref not in images:
                    notes.append(
                        Finding(
                            Severity.WARNING,
                            version,
                            name,
                            reg_name,
                            ref,
                            CHECK_DEPLOYED,
                            "in stack outputs",
                            NOT_DEPLOYED,
                            kind=KIND,
                        )
                    )

    expected += _chart_expectations(project, outputs, where)

    if "floating_tags" in outputs:
        floating = _mapping(outputs["floating_tags"], where, "floating_tags")
        for ref, rec in floating.items():
            path = f"floating_tags.{ref}"
            repository, tag = _split(ref, where, path)
            rec = _mapping(rec, where, path)
            expected.append(
                _expected(
                    index,
                    str(rec.get("release", UNKNOWN)),
                    repository,
                    tag,
                    _digest(rec.get("digest"), where, f"{path}.digest"),
                    present=_published(rec.get("published"), where, f"{path}.published"),
                    floating=True,
                )
            )
        notes += _floating_behind(project, floating)
    return expected, notes


def _chart_expectations(project: Project, outputs: Any, where: str) -> list[ExpectedTag]:
    """``releases.<version>.charts``: ``{"<repository>:<tag>": digest}`` (components/release.py).
    A yanked release's chart tags must be absent, like its image tags."""
    spec = project.spec
    index = {
        spec.registries[name].repository(chart.repository): (name, chart.name)
        for chart in spec.charts.values()
        for name in chart.registries
    }
    out: list[ExpectedTag] = []
    for version, rec in sorted(outputs["releases"].items()):
        if "charts" not in rec:
            continue
        version = str(version)
        manifest = project.release(version)
        yanked = rec.get("yanked") is True or (manifest is not None and manifest.yanked)
        charts = _mapping(rec["charts"], where, f"releases.{version}.charts")
        for ref, value in charts.items():
            path = f"releases.{version}.charts.{ref}"
            repository, tag = _split(ref, where, path)
            registry, chart = index.get(repository, (UNKNOWN, UNKNOWN))
            pin = manifest.charts.get(chart) if manifest is not None else None
            known = spec.charts.get(chart)
            keyring = None
            if known is not None and known.keyring and known.keyring_data:
                keyring = (known.keyring, known.keyring_data)
            out.append(
                ExpectedTag(
                    version,
                    chart,
                    registry,
                    repository,
                    tag,
                    _digest(value, where, path),
                    present=not yanked,
                    floating=False,
                    signatures=False,
                    chart=True,
                    chart_pin=pin,
                    chart_keyring=keyring,
                )
            )
    return out


def _floating_behind(project: Project, deployed: Mapping[str, Any]) -> list[Finding]:
    """Floating tags the manifests would point elsewhere (or add): the next update moves them."""
    spec = project.spec
    notes: list[Finding] = []
    # Floating tags only ever point at releases the window keeps (artifact_mirrors/window.py).
    for ft in compute_floating(spec.images.values(), windowed(project).releases):
        image = spec.images[ft.image]
        for reg_name in image.registries:
            ref = f"{spec.registries[reg_name].repository(image.repository)}:{ft.tag}"
            want = ft.digest if ft.published else ABSENT
            rec = deployed.get(ref)
            if rec is None:
                actual = NOT_DEPLOYED
            else:
                got = rec.get("digest") if rec.get("published") in (True, "true") else ABSENT
                if got == want:
                    continue
                actual = f"{got} deployed: run pulumi preview"
            notes.append(
                Finding(
                    Severity.WARNING,
                    ft.release,
                    ft.image,
                    reg_name,
                    ref,
                    CHECK_DEPLOYED,
                    f"{want} (manifests)",
                    actual,
                    kind=KIND,
                )
            )
    return notes


# ---- registries ----------------------------------------------------------------------------------


class RegistryPool:
    """One :class:`Registries` per destination registry of the spec (its credentials, CA file,
    plain HTTP), one for repositories the spec does not know and one for the first-party sources.

    Credentials the spec names but that are not available here (a stack-config secret, unset
    environment variables) fall back to the Docker credential store and anonymous access: the
    mirrors are public, and what anonymous users see is what verify should prove.
    """

    def __init__(self, project: Project, config: ConfigLookup | None = None) -> None:
        self._registries = project.spec.registries
        self._config = config
        self._made: dict[str, Registries] = {}
        self._lock = threading.Lock()

    def for_tag(self, t: ExpectedTag) -> Registries:
        with self._lock:
            regs = self._made.get(t.registry)
            if regs is None:
                reg = self._registries.get(t.registry)
                props: dict[str, Any] = {"repository": t.repository}
                if reg is not None:
                    props.update(
                        registry_kind=reg.kind,
                        insecure=reg.insecure,
                        ca_file=reg.ca_file,
                        credentials=reg.credentials.names(),
                    )
                regs = registries_for(props, self._config, required=False)
                self._made[t.registry] = regs
            return regs

    def sources(self) -> Registries:
        with self._lock:
            regs = self._made.get("")
            if regs is None:
                # First-party sources: Docker credential store / environment, plain HTTP only
                # for MIRRORS_INSECURE_REGISTRIES (local stand-ins), as `mirrors release add`.
                regs = Registries(insecure=insecure_registries())
                self._made[""] = regs
            return regs

    def close(self) -> None:
        with self._lock:
            for regs in self._made.values():
                regs.close()
            self._made.clear()

    def __enter__(self) -> RegistryPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- checks --------------------------------------------------------------------------------------


def _known_releases(expected: Iterable[ExpectedTag]) -> dict[tuple[str, str], str]:
    """(repository, digest) -> the release(s) whose tag names it, to explain a moved tag."""
    seen: dict[tuple[str, str], set[str]] = {}
    for t in expected:
        if not t.floating:
            seen.setdefault((t.repository, t.digest), set()).add(t.release)
    return {k: ", ".join(sorted(v)) for k, v in seen.items()}


def _check_tag(
    t: ExpectedTag, pool: RegistryPool, known: Mapping[tuple[str, str], str]
) -> tuple[list[Finding], bool]:
    """Findings for one tag, and whether it points where it should (so --deep may look deeper)."""
    want = t.digest if t.present else ABSENT
    try:
        live = ops.resolve(t.reference, registries=pool.for_tag(t))
    except (MirrorError, OSError) as exc:
        return [_finding(t, Severity.ERROR, t.check, want, f"cannot check: {exc}")], False
    if t.present and live == t.digest:
        return [], True
    if not t.present and live is None:
        return [], False
    if live is None:
        actual = MISSING
    else:
        # Name the release a foreign digest belongs to: "points at <digest> (17.0.0)" says at
        # once that a floating tag was left behind rather than overwritten by a stranger.
        release = known.get((t.repository, live))
        named = f"{live} ({release})" if release and release != t.release else live
        if not t.present:
            actual = f"present: {named}"
        else:
            actual = f"points at {named}" if t.floating else f"moved to {named}"
    return [_finding(t, Severity.ERROR, t.check, want, actual)], False


@dataclass(frozen=True)
class SignatureReport:
    """The verdict of an image's signature policy on one mirror's copy of one digest."""

    release: str
    image: str
    registry: str
    mirror: str  # repository@digest
    valid: bool
    detail: str  # "signed by cosign.pub" or why not
    required: bool


def _check_mirror_signature(
    t: ExpectedTag, dst_c: RegistryClient, dst_repo: str
) -> tuple[list[Finding], list[SignatureReport]]:
    if t.verify is None:
        return [], []
    mirror = f"{t.repository}@{t.digest}"
    verdict = check_policy(dst_c, dst_repo, t.digest, t.verify)
    report = SignatureReport(
        t.release, t.image, t.registry, mirror, verdict.ok, verdict.reason, t.verify.required
    )
    if verdict.ok:
        return [], [report]
    severity = Severity.ERROR if t.verify.required else Severity.WARNING
    finding = _finding(
        t, severity, CHECK_SIGNATURE, "validly signed (verify policy)", verdict.reason, mirror
    )
    return [finding], [report]


def _check_deep(t: ExpectedTag, pool: RegistryPool) -> tuple[list[Finding], list[SignatureReport]]:
    """The mirror's manifest tree, cosign tags and signature policy against the source's."""
    findings = _check_tree(t, pool)
    reports: list[SignatureReport] = []
    if t.verify is not None:
        try:
            dst = parse_reference(t.repository)
            found, reports = _check_mirror_signature(t, pool.for_tag(t).client(dst.registry),
                                                     dst.repository)  # fmt: skip
            findings += found
        except (MirrorError, OSError) as exc:
            findings.append(
                _finding(
                    t,
                    Severity.ERROR,
                    CHECK_SIGNATURE,
                    "validly signed (verify policy)",
                    f"cannot check: {exc}",
                    f"{t.repository}@{t.digest}",
                )
            )
    return findings, reports


def _check_tree(t: ExpectedTag, pool: RegistryPool) -> list[Finding]:
    """The mirror's manifest tree and cosign tags against the first-party source's."""
    if t.source is None:
        return [
            _finding(
                t,
                Severity.WARNING,
                CHECK_MANIFEST,
                "the source in the spec",
                "repository not in the spec: not compared",
            )
        ]
    src = parse_reference(t.source)
    dst = parse_reference(t.repository)
    findings: list[Finding] = []
    try:
        src_c = pool.sources().client(src.registry)
        dst_c = pool.for_tag(t).client(dst.registry)
        tree: list[str] = []
        pending = [t.digest]
        while pending:
            digest = pending.pop(0)
            tree.append(digest)
            at = f"{t.repository}@{digest}"
            # Fetched by digest, so each side is also checked against the digest on the way.
            source = src_c.find_manifest(src.repository, digest)
            if source is None:
                findings.append(
                    _finding(
                        t,
                        Severity.WARNING,
                        CHECK_MANIFEST,
                        f"at {t.source}",
                        "gone from the source: not compared",
                        at,
                    )
                )
                continue
            mirror = dst_c.find_manifest(dst.repository, digest)
            if mirror is None:
                findings.append(_finding(t, Severity.ERROR, CHECK_MANIFEST, "present", MISSING, at))
            elif mirror.raw != source.raw:
                findings.append(
                    _finding(
                        t,
                        Severity.ERROR,
                        CHECK_MANIFEST,
                        f"{len(source.raw)} bytes as at the source",
                        f"{len(mirror.raw)} different bytes",
                        at,
                    )
                )
            pending += [child.digest for child in source.children]
        if t.signatures:
            for digest in tree:
                for suffix in COSIGN_SUFFIXES:
                    findings += _check_attachment(
                        t, src_c, src.repository, dst_c, dst.repository, digest, suffix
                    )
    except (MirrorError, OSError) as exc:
        findings.append(
            _finding(t, Severity.ERROR, CHECK_MANIFEST, "comparable", f"cannot check: {exc}")
        )
    return findings


def _check_attachment(
    t: ExpectedTag,
    src_c: RegistryClient,
    src_repo: str,
    dst_c: RegistryClient,
    dst_repo: str,
    digest: str,
    suffix: str,
) -> list[Finding]:
    tag = cosign_tag(digest, suffix)
    at_source = src_c.head_manifest(src_repo, tag)
    if at_source is None:
        return []
    at_mirror = dst_c.head_manifest(dst_repo, tag)
    mirror = f"{t.repository}:{tag}"
    if at_mirror is None:
        return [_finding(t, Severity.ERROR, CHECK_SIGNATURE, at_source.digest, MISSING, mirror)]
    if at_mirror.digest != at_source.digest:
        # cosign rewrites the .sig manifest when a signature is added at the source later.
        return [
            _finding(
                t,
                Severity.WARNING,
                CHECK_SIGNATURE,
                at_source.digest,
                f"{at_mirror.digest}: the source changed since the copy; copy again",
                mirror,
            )
        ]
    return []


# ---- charts (--deep) -----------------------------------------------------------------------------


def _chart_blob(
    t: ExpectedTag,
    client: RegistryClient,
    repo: str,
    layer: Descriptor,
    check: str,
    pinned: str | None,
    findings: list[Finding],
) -> bytes | None:
    """One blob of a chart artifact: its descriptor against the pin, then its bytes served by
    the mirror against both (None: no bytes worth reading further)."""
    at = f"{t.repository}@{layer.digest}"
    if pinned is not None and layer.digest != pinned:
        findings.append(
            _finding(t, Severity.ERROR, check, f"{pinned} (pinned)", f"layer {layer.digest}", at)
        )
    data = client.find_blob(repo, layer.digest, MAX_CHART)
    if data is None:
        findings.append(_finding(t, Severity.ERROR, check, "blob present", MISSING, at))
        return None
    if (got := digest_of(data)) != layer.digest:
        findings.append(
            _finding(t, Severity.ERROR, check, layer.digest, f"content hashes to {got}", at)
        )
        return None
    return data


def _pinned(hex_digest: str | None) -> str | None:
    return f"sha256:{hex_digest}" if hex_digest else None


def _check_chart_signature(
    t: ExpectedTag, url: str, tgz: bytes, prov: bytes, keyring: tuple[str, bytes]
) -> tuple[list[Finding], SignatureReport]:
    """The mirror's .prov against the spec's keyring now, as `mirrors release add` checked the
    source's (a key dropped from the keyring since then shows here)."""
    from artifact_mirrors.charts import provenance
    from artifact_mirrors.gpg import SignatureError

    name, keys = keyring
    mirror = f"{t.repository}@{t.digest}"
    archive = urlsplit(url).path.rsplit("/", 1)[-1]
    try:
        signer = provenance.verify(prov, archive, digest_of(tgz).removeprefix("sha256:"), keys)
    except (SignatureError, provenance.ProvenanceError) as exc:
        report = SignatureReport(t.release, t.image, t.registry, mirror, False, str(exc), True)
        expected = f"signed by a key of {name}"
        return [_finding(t, Severity.ERROR, CHECK_PROVENANCE, expected, str(exc), mirror)], report
    detail = f"signed by {signer.key_id} ({name})"
    return [], SignatureReport(t.release, t.image, t.registry, mirror, True, detail, True)


def check_chart(t: ExpectedTag, pool: RegistryPool) -> tuple[list[Finding], list[SignatureReport]]:
    """--deep for a chart tag: the mirror's manifest is the pinned one, its content layer the
    pinned .tgz, its provenance layer the pinned .prov (and none when none is pinned), every
    blob is served with bytes that hash to its digest, and the config is what
    :mod:`artifact_mirrors.charts.artifact` builds from that chart (HTTP sources; an OCI
    source's artifact is the source's own, its manifest digest is the pin). With a keyring in
    the spec the mirror's .prov is verified against it too (a verdict per mirror)."""
    reports: list[SignatureReport] = []
    return _check_chart(t, pool, reports), reports


def _check_chart(
    t: ExpectedTag, pool: RegistryPool, reports: list[SignatureReport]
) -> list[Finding]:
    pin = t.chart_pin
    if pin is None:
        return [
            _finding(
                t,
                Severity.WARNING,
                CHECK_MANIFEST,
                "the release manifest's pin",
                f"release {t.release} pins no chart {t.image}: not compared",
            )
        ]
    findings: list[Finding] = []
    dst = parse_reference(t.repository)
    try:
        client = pool.for_tag(t).client(dst.registry)
        manifest = client.find_manifest(dst.repository, t.tag)
        if manifest is None:
            return [_finding(t, Severity.ERROR, CHECK_MANIFEST, pin.digest, MISSING)]
        if manifest.digest != pin.digest:
            return [
                _finding(
                    t,
                    Severity.ERROR,
                    CHECK_MANIFEST,
                    f"{pin.digest} (pinned)",
                    f"{manifest.digest} at the tag",
                )
            ]
        layers = [
            Descriptor.from_json(d)
            for d in manifest.doc.get("layers") or []
            if isinstance(d, dict) and "digest" in d
        ]
        content = [d for d in layers if d.media_type == CHART_MEDIA_TYPE]
        prov = [d for d in layers if d.media_type == PROV_MEDIA_TYPE]
        at = f"{t.repository}@{pin.digest}"
        tgz: bytes | None = None
        if len(content) != 1:
            findings.append(
                _finding(
                    t,
                    Severity.ERROR,
                    CHECK_CONTENT,
                    f"one {CHART_MEDIA_TYPE} layer",
                    f"{len(content)}",
                    at,
                )
            )
        else:
            tgz = _chart_blob(
                t, client, dst.repository, content[0], CHECK_CONTENT, _pinned(pin.sha256), findings
            )
        want_prov = _pinned(pin.prov_sha256)
        if want_prov is not None and not prov:
            findings.append(
                _finding(
                    t,
                    Severity.ERROR,
                    CHECK_PROVENANCE,
                    f"{want_prov} (pinned)",
                    "no provenance layer",
                    at,
                )
            )
        elif pin.url is not None and want_prov is None and prov:
            findings.append(
                _finding(
                    t,
                    Severity.ERROR,
                    CHECK_PROVENANCE,
                    "no provenance layer (none pinned)",
                    f"layer {prov[0].digest}",
                    at,
                )
            )
        for layer in prov:
            data = _chart_blob(t, client, dst.repository, layer, CHECK_PROVENANCE, want_prov,
                               findings)  # fmt: skip
            if data is not None and tgz is not None and t.chart_keyring and pin.url:
                found, report = _check_chart_signature(t, pin.url, tgz, data, t.chart_keyring)
                findings += found
                reports.append(report)
        config = manifest.config
        if config is None or config.media_type != CONFIG_MEDIA_TYPE:
            got = config.media_type if config else "none"
            findings.append(
                _finding(t, Severity.ERROR, CHECK_CONFIG, f"a {CONFIG_MEDIA_TYPE} config", got, at)
            )
            return findings
        built: str | None = None
        if tgz is not None and pin.url is not None:
            try:
                built = digest_of(go_json(metadata(read_chart_yaml(tgz))))
            except ChartFileError as exc:
                findings.append(
                    _finding(
                        t,
                        Severity.ERROR,
                        CHECK_CONTENT,
                        "a Helm chart",
                        str(exc),
                        f"{t.repository}@{content[0].digest}",
                    )
                )
        if built is not None and config.digest != built:
            findings.append(
                _finding(
                    t,
                    Severity.ERROR,
                    CHECK_CONFIG,
                    f"{built} (built from the chart)",
                    f"layer {config.digest}",
                    f"{t.repository}@{config.digest}",
                )
            )
        _chart_blob(t, client, dst.repository, config, CHECK_CONFIG, None, findings)
    except (MirrorError, OSError) as exc:
        findings.append(
            _finding(t, Severity.ERROR, CHECK_MANIFEST, "comparable", f"cannot check: {exc}")
        )
    return findings


def verify_image_tags(
    expected: Sequence[ExpectedTag],
    pool: RegistryPool,
    *,
    deep: bool = False,
    workers: int = 8,
    signatures: list[SignatureReport] | None = None,
) -> list[Finding]:
    """Check every tag (in parallel: mostly HEADs); ``deep`` compares with the sources too and
    appends each signature verdict at a mirror to ``signatures``."""
    known = _known_releases(expected)
    findings: list[Finding] = []
    with ThreadPoolExecutor(max_workers=workers) as threads:
        check_tag = partial(_check_tag, pool=pool, known=known)
        results = list(threads.map(check_tag, expected))
        passed: dict[tuple[str, str, str], ExpectedTag] = {}
        for t, (found, ok) in zip(expected, results, strict=True):
            findings += found
            # The release tag and its floating tags share one tree: compare it once.
            if ok and deep:
                key = (t.registry, t.repository, t.digest)
                if key not in passed or passed[key].floating:
                    passed[key] = t
        if deep:
            trees = list(passed.values())
            check_deep = partial(_check_deep, pool=pool)
            for found, reports in threads.map(check_deep, [t for t in trees if not t.chart]):
                findings += found
                if signatures is not None:
                    signatures += reports
            charts = [t for t in trees if t.chart]
            for found, reports in threads.map(partial(check_chart, pool=pool), charts):
                findings += found
                if signatures is not None:
                    signatures += reports
    return findings


# ---- signature verdicts --------------------------------------------------------------------------

_SIGNATURE_COLUMNS = ("release", "image", "registry", "mirror", "signature", "detail")


def _signature_rows(reports: Sequence[SignatureReport]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for r in sorted(reports, key=lambda r: (r.release, r.image, r.registry, r.mirror)):
        verdict = "valid" if r.valid else ("invalid" if r.required else "invalid (not required)")
        rows.append((r.release, r.image, r.registry, r.mirror, verdict, r.detail))
    return rows


def signatures_title(reports: Sequence[SignatureReport]) -> str:
    valid = sum(1 for r in reports if r.valid)
    return f"signatures at the mirrors: {valid} valid, {len(reports) - valid} invalid"


def signatures_table(reports: Sequence[SignatureReport]) -> Table:
    from rich.table import Table

    table = Table(title=signatures_title(reports))
    for column in _SIGNATURE_COLUMNS:
        table.add_column(column, overflow="fold")
    for row in _signature_rows(reports):
        table.add_row(*row, style="green" if row[4] == "valid" else "red")
    return table


def signatures_markdown(reports: Sequence[SignatureReport]) -> str:
    lines = [
        "",
        f"### {signatures_title(reports)}",
        "",
        "| " + " | ".join(_SIGNATURE_COLUMNS) + " |",
        "|" + "---|" * len(_SIGNATURE_COLUMNS),
    ]
    lines += [
        "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
        for row in _signature_rows(reports)
    ]
    return "\n".join(lines) + "\n"
