"""`mirrors verify`, Terraform provider half: is every mirror object still what the stack put there?

Inputs are the stack outputs and the spec plus release manifests:

- ``terraform_providers``: provider -> destination -> {kind, bucket, prefix, region, profile}
  (components/program.py): which destinations this stack publishes (a stack without providers,
  e.g. a GovCloud-scoped one, checks none);
- ``releases.<version>.terraform_providers``: ``"PROVIDER@DESTINATION"`` -> S3 key -> sha256 of
  the object (components/release.py): the version's files and documents;
- the manifests: which keys are files (zip, sums, signature) and the documents' exact bytes, and
  the index documents, generated here with the same functions the program uses
  (:mod:`artifact_mirrors.terraform.layout`): the versions of every manifest not yanked.

Checks, per object:

- a file (zip / sums / sig): exists, and the sha256 the copy recorded on it
  (``x-amz-meta-sha256``, artifact_mirrors/terraform/copy.py) is the pinned one; an object
  without that record (replaced by another upload) is hashed; ``deep`` hashes every file;
- a document (download document / ``VERSION.json``), an index (``versions`` / ``index.json``)
  and the discovery document (``.well-known/terraform.json``): exists, is served as
  ``application/json`` (Terraform's network mirror client refuses anything else) and has exactly
  the expected bytes; an index that differs says which versions it lists wrongly (a yanked
  version still listed is drift), a document which field differs;
- a yanked version at a destination with ``yank: delete-files``: its files are absent.

Warnings (exit 0): destinations or providers in the outputs that the spec no longer has, a
release recorded without its manifest, a deployed sha256 that differs from the manifest (the
stack is behind: run pulumi preview).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from artifact_mirrors import naming
from artifact_mirrors.aws.types import Finding, Severity
from artifact_mirrors.command_errors import BadInputError, located
from artifact_mirrors.spec.model import Project, TerraformDestination, TerraformProvider
from artifact_mirrors.terraform import layout
from artifact_mirrors.terraform.copy import SHA256_META
from artifact_mirrors.terraform.hashes import CHUNK

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

KIND = "provider"
INDEX = "index"  # the release column of the documents every release shares
FILE_KINDS = ("zip", "sums", "sig")
DOCUMENT = "document"
DISCOVERY = "discovery"
UNKNOWN_KIND = "object"  # a recorded key whose manifest is gone
MAX_DOCUMENT = 4 << 20

CHECK_DEPLOYED = "deployed"
CHECK_SPEC = "spec"
CHECK_MANIFEST = "manifest"
CHECK_YANKED = "yanked"
CHECK_CONTENT_TYPE = "content-type"
MISSING = "missing"
ABSENT = "absent"

S3For = Callable[[str, str | None], "S3Client"]
"""(region, profile) -> an S3 client."""


@dataclass(frozen=True)
class ExpectedObject:
    """What `mirrors verify` expects of one S3 object of a provider mirror."""

    release: str  # the version, or "index"
    provider: str
    destination: str
    bucket: str
    key: str
    region: str
    profile: str | None
    kind: str  # zip | sums | sig | document | index | discovery | object
    sha256: str
    present: bool = True  # False: a yanked version's file with yank: delete-files
    content: str | None = None  # documents: the expected bytes, for a precise difference
    yanked: tuple[str, ...] = ()  # index: versions that must not be listed

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def is_file(self) -> bool:
        return self.kind in (*FILE_KINDS, UNKNOWN_KIND)


def _finding(
    e: ExpectedObject, severity: Severity, check: str, expected: str, actual: str
) -> Finding:
    return Finding(
        severity, e.release, e.provider, e.destination, e.url, check, expected, actual, kind=KIND
    )


def _note(
    release: str, provider: str, dest: str, check: str, expected: str, actual: str
) -> Finding:
    return Finding(Severity.WARNING, release, provider, dest, "-", check, expected, actual, KIND)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---- expectations --------------------------------------------------------------------------------


def _mapping(value: object, where: str, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadInputError(located(where, "must be a mapping", value, "see README", path=path))
    return value


def _deployed(
    project: Project, outputs: Mapping[str, Any], where: str
) -> tuple[list[tuple[TerraformProvider, TerraformDestination]], list[Finding]]:
    """The spec's (provider, destination) pairs the outputs say this stack publishes."""
    section = _mapping(outputs.get("terraform_providers", {}), where, "terraform_providers")
    pairs: list[tuple[TerraformProvider, TerraformDestination]] = []
    notes: list[Finding] = []
    for name, dests in sorted(section.items()):
        dests = _mapping(dests, where, f"terraform_providers.{name}")
        provider = project.spec.terraform_providers.get(name)
        for dest_name in sorted(dests):
            known = provider.destinations if provider is not None else ()
            dest = next((d for d in known if d.name == dest_name), None)
            if provider is None or dest is None:
                notes.append(
                    _note(
                        "-",
                        name,
                        dest_name,
                        CHECK_SPEC,
                        f"{name}/{dest_name} in the spec",
                        "not in the spec: not verified",
                    )
                )
                continue
            pairs.append((provider, dest))
    return pairs, notes


def _object(
    provider: TerraformProvider,
    dest: TerraformDestination,
    release: str,
    key: str,
    kind: str,
    sha256: str,
    **more: Any,
) -> ExpectedObject:
    return ExpectedObject(
        release,
        provider.name,
        dest.name,
        dest.bucket,
        key,
        dest.region,
        dest.profile,
        kind,
        sha256,
        **more,
    )


def provider_expectations(
    project: Project, outputs: Mapping[str, Any], where: str
) -> tuple[list[ExpectedObject], list[Finding]]:
    """Every object to check, plus warnings for what cannot be (fully) checked.

    ``outputs``: the stack outputs with archived releases merged in (artifact_mirrors/archive.py).
    """
    pairs, notes = _deployed(project, outputs, where)
    releases = _mapping(outputs.get("releases", {}), where, "releases")
    expected: list[ExpectedObject] = []
    owners = layout.well_known_owners(project.spec.terraform_providers.values())
    for provider, dest in pairs:
        label = naming.terraform_destination(provider.name, dest.name)
        obj = partial(_object, provider, dest)
        for version, rec in sorted(releases.items()):
            rec = _mapping(rec, where, f"releases.{version}")
            recorded = _mapping(
                rec.get("terraform_providers", {}), where, f"releases.{version}.terraform_providers"
            )
            if label not in recorded:
                continue
            objects = _mapping(
                recorded[label], where, f"releases.{version}.terraform_providers.{label}"
            )
            release = project.release(str(version))
            rp = release.terraform_providers.get(provider.name) if release else None
            yanked = rec.get("yanked") is True or (release is not None and release.yanked)
            files = {f.key: f for f in layout.files(dest, provider, rp)} if rp else {}
            docs = {d.key: d for d in layout.version_documents(dest, provider, rp)} if rp else {}
            if rp is None:
                notes.append(
                    _note(
                        str(version),
                        provider.name,
                        dest.name,
                        CHECK_MANIFEST,
                        f"manifest for {version} pinning {provider.name}",
                        "missing: only the recorded sha256 checked",
                    )
                )
            drop = yanked and dest.delete_yanked_files
            for key, sha in sorted(objects.items()):
                if not isinstance(sha, str):
                    raise BadInputError(
                        located(
                            where,
                            "not a sha256",
                            sha,
                            "run `pulumi up` to finish the copy",
                            path=f"releases.{version}.terraform_providers.{label}.{key}",
                        )
                    )
                if key in files:
                    expected.append(obj(str(version), key, files[key].kind, sha, present=not drop))
                elif key in docs:
                    expected.append(
                        obj(str(version), key, DOCUMENT, sha, content=docs[key].content)
                    )
                else:
                    # No manifest says what it is: the recorded sha256 or the bytes' decide.
                    expected.append(obj(str(version), key, UNKNOWN_KIND, sha))
            if drop:
                # yank: delete-files: the update deleted its download documents too.
                expected += [
                    obj(str(version), k, DOCUMENT, _sha(d.content), present=False)
                    for k, d in sorted(docs.items())
                    if k not in objects
                ]
                continue
            pins = {k: f.sha256 for k, f in files.items()} | {
                k: _sha(d.content) for k, d in docs.items()
            }
            for key, want in sorted(pins.items()):
                if objects.get(key) != want:
                    notes.append(
                        _note(
                            str(version),
                            provider.name,
                            dest.name,
                            CHECK_DEPLOYED,
                            f"{key} sha256 {want} (manifest)",
                            "not deployed: run pulumi preview"
                            if key not in objects
                            else f"deployed sha256 {objects[key]}: run pulumi preview",
                        )
                    )
        # The index lists every manifest's version that is not yanked (components/terraform.py).
        listed = [
            r.terraform_providers[provider.name]
            for r in project.releases
            if not r.yanked and provider.name in r.terraform_providers
        ]
        gone = tuple(
            r.name for r in project.releases if r.yanked and provider.name in r.terraform_providers
        )
        index = layout.index_document(dest, provider, listed)
        expected.append(
            obj(INDEX, index.key, INDEX, _sha(index.content), content=index.content, yanked=gone)
        )
        wk = layout.well_known(dest)
        if wk is not None and (provider.name, dest.name) in owners:  # one per site
            expected.append(obj(INDEX, wk.key, DISCOVERY, _sha(wk.content), content=wk.content))
    return expected, notes


# ---- checks --------------------------------------------------------------------------------------


def _head(s3: S3Client, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return dict(s3.head_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _hash_object(s3: S3Client, bucket: str, key: str) -> str:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    h = hashlib.sha256()
    while chunk := body.read(CHUNK):
        h.update(chunk)
    return h.hexdigest()


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k in sorted(value):
            yield from _leaves(value[k], f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def _differences(expected: Any, actual: Any) -> list[tuple[str, str, str]]:
    """(path, expected, actual) of every JSON leaf that differs."""
    want, got = dict(_leaves(expected)), dict(_leaves(actual))
    out = []
    for path in sorted(set(want) | set(got)):
        if want.get(path, MISSING) != got.get(path, MISSING):
            out.append(
                (
                    path,
                    json.dumps(want[path]) if path in want else ABSENT,
                    json.dumps(got[path]) if path in got else ABSENT,
                )
            )
    return out


def _listed_versions(doc: Any) -> list[str]:
    versions = doc.get("versions") if isinstance(doc, dict) else None
    if isinstance(versions, dict):  # index.json
        return [str(v) for v in versions]
    if isinstance(versions, list):  # versions
        return [str(v.get("version")) for v in versions if isinstance(v, dict)]
    return []


def _document_findings(e: ExpectedObject, body: bytes) -> list[Finding]:
    got = hashlib.sha256(body).hexdigest()
    if got == e.sha256:
        return []
    try:
        actual = json.loads(body)
    except ValueError:
        return [_finding(e, Severity.ERROR, e.kind, "a JSON document", "not JSON")]
    if e.content is None:
        return [_finding(e, Severity.ERROR, e.kind, f"sha256 {e.sha256}", f"sha256 {got}")]
    want = json.loads(e.content)
    findings: list[Finding] = []
    if e.kind == INDEX:
        wanted, listed = _listed_versions(want), _listed_versions(actual)
        for v in wanted:
            if v not in listed:
                findings.append(_finding(e, Severity.ERROR, INDEX, f"{v} listed", "not listed"))
        for v in listed:
            if v not in wanted:
                why = "yanked" if v in e.yanked else "no manifest"
                findings.append(
                    _finding(e, Severity.ERROR, INDEX, f"{v} not listed ({why})", "listed")
                )
        if findings:
            return findings
    for path, exp, act in _differences(want, actual):
        findings.append(_finding(e, Severity.ERROR, e.kind, f"{path}: {exp}", f"{path}: {act}"))
    # Same data, other bytes (formatting): Terraform would accept it, but it is not ours.
    return findings or [_finding(e, Severity.ERROR, e.kind, f"sha256 {e.sha256}", f"sha256 {got}")]


def check_object(s3: S3Client, e: ExpectedObject, *, deep: bool = False) -> list[Finding]:
    head = _head(s3, e.bucket, e.key)
    if not e.present:
        if head is None:
            return []
        return [_finding(e, Severity.ERROR, CHECK_YANKED, ABSENT, "present (yank: delete-files)")]
    if head is None:
        return [_finding(e, Severity.ERROR, e.kind, f"sha256 {e.sha256}", MISSING)]
    if e.is_file:
        recorded = head.get("Metadata", {}).get(SHA256_META)
        if recorded is not None and not deep:
            if recorded == e.sha256:
                return []
            return [
                _finding(
                    e, Severity.ERROR, e.kind, f"sha256 {e.sha256}", f"recorded sha256 {recorded}"
                )
            ]
        got = _hash_object(s3, e.bucket, e.key)
        if got == e.sha256:
            return []
        return [_finding(e, Severity.ERROR, e.kind, f"sha256 {e.sha256}", f"sha256 {got}")]
    findings = []
    content_type = str(head.get("ContentType", ""))
    if content_type.split(";")[0].strip() != layout.JSON:
        findings.append(
            _finding(e, Severity.ERROR, CHECK_CONTENT_TYPE, layout.JSON, content_type or ABSENT)
        )
    if int(head.get("ContentLength", 0)) > MAX_DOCUMENT:
        return [
            *findings,
            _finding(
                e,
                Severity.ERROR,
                e.kind,
                f"sha256 {e.sha256}",
                f"{head['ContentLength']} bytes: not a document",
            ),
        ]
    body = s3.get_object(Bucket=e.bucket, Key=e.key)["Body"].read()
    return findings + _document_findings(e, body)


def verify_provider_objects(
    expected: list[ExpectedObject], s3_for: S3For, *, deep: bool = False
) -> list[Finding]:
    """Check every object; a bucket that cannot be read is one error per object."""
    clients: dict[tuple[str, str | None], S3Client] = {}
    findings: list[Finding] = []
    for e in expected:
        try:
            s3 = clients.get((e.region, e.profile))
            if s3 is None:
                s3 = clients[(e.region, e.profile)] = s3_for(e.region, e.profile)
            findings += check_object(s3, e, deep=deep)
        except (BotoCoreError, ClientError) as exc:
            detail = " ".join(str(exc).split())
            findings.append(_finding(e, Severity.ERROR, e.kind, "readable", detail))
    return findings
