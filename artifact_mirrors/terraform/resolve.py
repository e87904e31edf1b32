"""`mirrors release add` for Terraform providers: resolve, verify, then pin.

For each platform of the spec: the source's download document (Provider Registry Protocol),
its ``.sums`` file and detached signature. The signature is checked with gpgv against the keys
the source publishes in that document **before** anything is pinned; then the sums file must
name the package's filename with the document's sha256, and the zip itself (streamed to a
temporary file) must have that sha256. Its ``h1:`` hash (network mirror documents) is computed
from the same bytes. Any failure raises a located one-line error and nothing is written.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from artifact_mirrors.command_errors import OperationFailedError, located
from artifact_mirrors.gpg import SignatureError, verify_detached
from artifact_mirrors.spec.errors import PathPart, format_path
from artifact_mirrors.spec.model import ProviderPackage, ReleaseProvider, Spec, TerraformProvider
from artifact_mirrors.spec.yamlio import load_document
from artifact_mirrors.terraform.hashes import h1_zip
from artifact_mirrors.terraform.protocol import DownloadDocument, SourceError, SourceRegistry


@dataclass(frozen=True)
class SpecPlace:
    """Where a provider's entries are in the spec file, for located errors."""

    file: Path
    index: int

    def where(self, *path: PathPart) -> tuple[str, str]:
        full: tuple[PathPart, ...] = ("terraform_providers", self.index, *path)
        try:
            line = load_document(self.file, what="mirror spec").line_of(full)
        except Exception:
            line = None
        return (f"{self.file}:{line}" if line else str(self.file)), format_path(full)


EDDSA = 22  # OpenPGP public-key algorithm id of an ed25519 key as GnuPG makes it


def _fail(
    place: SpecPlace, path: tuple[PathPart, ...], problem: str, got: object, hint: str
) -> OperationFailedError:
    where, dotted = place.where(*path)
    return OperationFailedError(located(where, problem, got, hint, path=dotted))


def parse_sums(text: str) -> dict[str, str]:
    """``sha256sum`` output: filename -> sha256 hex (``*`` marks binary mode)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            out[parts[1].lstrip("*")] = parts[0].lower()
    return out


def _armor_of(doc: DownloadDocument, key_id: str) -> str:
    for k in doc.signing_keys:
        if k.key_id == key_id:
            return k.ascii_armor
    return doc.signing_keys[0].ascii_armor


def _verify_package(
    reg: SourceRegistry,
    doc: DownloadDocument,
    platform: str,
    place: SpecPlace,
    k: int,
) -> tuple[ProviderPackage, str, str, int]:
    """(package, key id, armor, key algorithm) once the signature, the sums and the zip check
    out."""
    sums = reg.small_file(doc.shasums_url)
    sig = reg.small_file(doc.shasums_signature_url)
    if not doc.signing_keys:
        raise _fail(
            place,
            ("source",),
            f"the source publishes no signing key for {platform}",
            doc.url,
            "a provider without gpg_public_keys cannot be verified; ask the vendor",
        )
    problems = []
    good = None
    for key in doc.signing_keys:
        try:
            good = verify_detached(sums, sig, key.ascii_armor)
        except SignatureError as exc:
            problems.append(f"{key.key_id}: {exc}")
            continue
        if good.matches(key.key_id):
            break
        problems.append(f"{key.key_id}: signed by {good.key_id}")
        good = None
    if good is None:
        raise _fail(
            place,
            ("source",),
            f"signature {doc.shasums_signature_url} does not verify against the source's "
            f"published key",
            "; ".join(problems),
            "nothing was written: the sums file or its signature is not the vendor's; do not "
            "pin this release until the source is fixed",
        )
    key_id = next(k.key_id for k in doc.signing_keys if good.matches(k.key_id))
    listed = parse_sums(sums.decode("utf-8", "replace")).get(doc.filename)
    if listed != doc.shasum:
        raise _fail(
            place,
            ("source",),
            f"the signed sums file does not list {doc.filename} with the document's sha256",
            listed or "not listed",
            f"the download document {doc.url} and the signed sums disagree; do not pin",
        )
    with tempfile.TemporaryFile() as spool:
        got = reg.stream_to(doc.download_url, spool)
        if got != doc.shasum:
            raise _fail(
                place,
                ("platforms", k),
                f"{doc.download_url}: the zip's sha256 is not the signed one",
                got,
                "nothing was written; the source serves a file that its signature does not cover",
            )
        spool.seek(0)
        h1 = h1_zip(spool)
    package = ProviderPackage(
        platform=platform,
        filename=doc.filename,
        url=doc.download_url,
        sha256=doc.shasum,
        h1=h1,
        sums_url=doc.shasums_url,
        sums_sha256=hashlib.sha256(sums).hexdigest(),
        sums_signature_url=doc.shasums_signature_url,
        sums_signature_sha256=hashlib.sha256(sig).hexdigest(),
    )
    return package, key_id, _armor_of(doc, key_id), good.algorithm


def eddsa_warning(place: SpecPlace, version: str, key_id: str) -> str:
    """One line: the release is pinned, but Terraform's signature check cannot read its key.

    Terraform verifies provider signatures with golang.org/x/crypto/openpgp, which has no EdDSA
    (hashicorp/terraform#32056, open, would switch it to ProtonMail/go-crypto for ECC keys);
    Terraform 1.0.3 fails with the message quoted below (tests/integration/aws/
    test_terraform_shared_site.py shows it). A network mirror is installed by its hashes.
    """
    where, dotted = place.where("source")
    return (
        f"{where}: {dotted}: warning: version {version} is signed with an ed25519 key "
        f"({key_id}) that Terraform 1.0.3 cannot read: `terraform init` from the registry "
        'mirror fails with "error decoding signing key: openpgp: unsupported feature: public '
        'key type: 22". Hint: pinned anyway; the network-mirror layout still installs (it '
        "checks the zh:/h1: hashes), or ask the vendor for an RSA signing key "
        "(https://github.com/hashicorp/terraform/pull/32056)"
    )


def resolve_provider(
    provider: TerraformProvider,
    version: str,
    place: SpecPlace,
    warn: Callable[[str], None] = lambda _line: None,
) -> ReleaseProvider:
    """Pin ``provider`` at ``version`` (the provider version is the release version).

    ``warn`` gets one line per problem that does not stop the pin (an ed25519 signing key)."""
    try:
        with SourceRegistry(provider.source, ca_file=provider.ca_file) as reg:
            versions = reg.versions(provider.namespace, provider.type)
            if version not in versions:
                known = sorted(versions)[-5:]
                raise _fail(
                    place,
                    ("source",),
                    f"provider {provider.namespace}/{provider.type} has no version {version} at "
                    "the source",
                    provider.source,
                    "versions there: "
                    + (", ".join(known) or "none")
                    + "; check that the release was published",
                )
            packages: dict[str, ProviderPackage] = {}
            keys: dict[str, str] = {}
            protocols: tuple[str, ...] = ()
            algorithms: set[int] = set()
            for k, platform in enumerate(provider.platforms):
                os_, arch = platform.split("/")
                doc = None
                if platform in versions[version]:
                    doc = reg.download(provider.namespace, provider.type, version, os_, arch)
                if doc is None:
                    raise _fail(
                        place,
                        ("platforms", k),
                        f"version {version} has no {platform} package at the source",
                        platform,
                        "published platforms: "
                        + (", ".join(versions[version]) or "none")
                        + "; remove the platform from the spec or wait for the vendor",
                    )
                package, key_id, armor, algorithm = _verify_package(reg, doc, platform, place, k)
                algorithms.add(algorithm)
                packages[platform] = package
                keys[key_id] = armor
                protocols = protocols or doc.protocols
    except SourceError as exc:
        raise _fail(
            place,
            ("source",),
            "cannot read the source registry",
            str(exc),
            "check the URL and the network; TLS is verified (tls.ca_file for a private CA)",
        ) from None
    if len(keys) != 1:
        raise _fail(
            place,
            ("source",),
            f"version {version}'s packages are signed by {len(keys)} different keys",
            ", ".join(sorted(keys)),
            "a release pins one signing key; ask the vendor",
        )
    ((key_id, armor),) = keys.items()
    if EDDSA in algorithms:
        warn(eddsa_warning(place, version, key_id))
    return ReleaseProvider(
        name=provider.name,
        version=version,
        protocols=protocols,
        key_id=key_id,
        ascii_armor=armor,
        packages=packages,
    )


def resolve_all(
    spec: Spec, version: str, warn: Callable[[str], None] = lambda _line: None
) -> tuple[ReleaseProvider, ...]:
    return tuple(
        resolve_provider(p, version, SpecPlace(spec.file, i), warn)
        for i, p in enumerate(spec.terraform_providers.values())
    )
