"""`mirrors release add VERSION`: resolve a release in the first-party sources and pin it.

Images: each image's ``<source>:<VERSION>`` tag is resolved to a digest (and its platforms) by an
:data:`ImageResolver`. AMIs: one per edition of the spec, found by tags in the vendor's account
(:func:`artifact_mirrors.aws.find_release_amis`, never by name). The result is written to
``releases/<VERSION>.yaml`` only after `load_project` accepts it, through a hidden staging file
that is hard-linked into place, so a manifest is never half-written and never overwritten.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import semver
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from artifact_mirrors.aws import (
    EditionKey,
    ResolvedAmi,
    TagNames,
    TagValues,
    find_release_amis,
)
from artifact_mirrors.command_errors import BadInputError, OperationFailedError, located
from artifact_mirrors.spec.errors import SpecErrors
from artifact_mirrors.spec.load import load_project
from artifact_mirrors.spec.model import (
    AmiSpec,
    Image,
    ReleaseChart,
    ReleaseProvider,
    Spec,
    ami_key,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from artifact_mirrors.oci.signatures import Verdict

ImageResolver = Callable[[str], tuple[str, list[str]] | None]
"""``"<repository>:<tag>"`` -> ``(digest, platforms)``, or None when the tag does not exist."""

SignatureChecker = Callable[[Image, str], "Verdict"]
"""(image, digest) -> what the image's ``verify:`` policy makes of the digest at its source."""

JSON_HINT = 'write {"IMAGE": {"digest": "sha256:…", "platforms": ["linux/amd64", …]}, …}'


@dataclass(frozen=True)
class PinnedImage:
    name: str
    ref: str  # the tag that was resolved, e.g. public.ecr.aws/gravitational/teleport:17.0.1
    digest: str
    platforms: tuple[str, ...]
    signature: str = ""  # what the image's verify policy found ("" without a policy)


@dataclass(frozen=True)
class ResolvedRelease:
    version: str
    channel: str
    images: tuple[PinnedImage, ...]
    amis: tuple[ResolvedAmi, ...]
    # Verified by artifact_mirrors.terraform.resolve before they get here.
    terraform_providers: tuple[ReleaseProvider, ...] = ()
    # Checked against index.yaml and their bytes by artifact_mirrors.charts.resolve.
    charts: tuple[ReleaseChart, ...] = ()


# ---- input checks --------------------------------------------------------------------------------


def check_version(version: str) -> str:
    try:
        semver.Version.parse(version)
    except ValueError:
        raise BadInputError(
            located(
                "VERSION",
                "not a semantic version",
                version,
                "write MAJOR.MINOR.PATCH without a leading v, e.g. 17.0.1",
            )
        ) from None
    return version


def manifest_path(releases_dir: Path, version: str) -> Path:
    return releases_dir / f"{version}.yaml"


def already_exists_message(path: Path, version: str) -> str:
    return located(
        str(path),
        "release manifest already exists",
        version,
        "a pinned release is never re-resolved in place: review and edit it by hand, or delete"
        " it and run `mirrors release add` again",
    )


def check_not_pinned(releases_dir: Path, version: str, display: Path) -> None:
    """Refuse early (before any network call) when the release already has a manifest."""
    for suffix in (".yaml", ".yml"):
        existing = releases_dir / f"{version}{suffix}"
        if existing.exists():
            raise BadInputError(already_exists_message(display.with_suffix(suffix), version))


# ---- images --------------------------------------------------------------------------------------


def default_image_resolver() -> tuple[ImageResolver, str]:
    """Resolve with the OCI engine: the tag to a digest, then that digest's platforms."""
    from artifact_mirrors.oci import ops
    from artifact_mirrors.oci.client import Registries
    from artifact_mirrors.oci.env import insecure_registries
    from artifact_mirrors.oci.errors import MirrorError

    def resolver(ref: str) -> tuple[str, list[str]] | None:
        try:
            with Registries(insecure=insecure_registries()) as regs:
                digest = ops.resolve(ref, registries=regs)  # None: no such tag (404)
                if digest is None:
                    return None
                # Describe by digest, so the platforms belong to the digest we pin even if the
                # tag moves between the two calls.
                desc = ops.describe(f"{_repository_of(ref)}@{digest}", registries=regs)
        except MirrorError as exc:
            raise OperationFailedError(str(exc)) from None
        return desc.digest, list(desc.platforms)

    return resolver, "artifact_mirrors.oci (resolve + describe)"


def _repository_of(ref: str) -> str:
    """``host:port/repo:tag`` -> ``host:port/repo`` (a colon after the last slash is the tag)."""
    slash, colon = ref.rfind("/"), ref.rfind(":")
    return ref[:colon] if colon > slash else ref


def json_image_resolver(file: Path, display: Path, spec: Spec, version: str) -> ImageResolver:
    """A resolver over ``{image: {digest, platforms}}`` (image names as in the spec).

    Every spec image must be present and no other: a missing entry would otherwise surface as
    "tag not found", which is not what happened.
    """
    where = str(display)
    try:
        data: Any = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(
            located(where, "file not found", str(display), "pass the path of a JSON file")
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(
            located(where, "cannot read file", exc.__class__.__name__, "check the path")
        ) from None
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{where}:{exc.lineno}: not valid JSON (got {exc.msg}). Hint: {JSON_HINT}"
        ) from None
    if not isinstance(data, dict):
        raise BadInputError(located(where, "must be a JSON object", data, JSON_HINT))
    by_ref: dict[str, tuple[str, list[str]]] = {}
    for name, entry in data.items():
        image = spec.images.get(name)
        if image is None:
            close = difflib.get_close_matches(name, list(spec.images), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise BadInputError(
                located(
                    where,
                    "image is not in the spec",
                    name,
                    hint + f"images: {', '.join(spec.images)}",
                    path=name,
                )
            )
        digest = entry.get("digest") if isinstance(entry, dict) else None
        platforms = entry.get("platforms", []) if isinstance(entry, dict) else None
        if not isinstance(digest, str):
            raise BadInputError(
                located(where, "needs a digest string", digest, JSON_HINT, path=f"{name}.digest")
            )
        if not isinstance(platforms, list) or not all(isinstance(p, str) for p in platforms):
            raise BadInputError(
                located(
                    where,
                    "must be a list of strings",
                    platforms,
                    JSON_HINT,
                    path=f"{name}.platforms",
                )
            )
        by_ref[f"{image.source}:{version}"] = (digest, list(platforms))
    missing = [n for n in spec.images if n not in data]
    if missing:
        raise BadInputError(
            located(
                where,
                f"missing {len(missing)} image(s) of the spec",
                ", ".join(missing),
                "add an entry for every image in destinations.yaml",
            )
        )
    return by_ref.get


def default_signature_checker() -> SignatureChecker:
    """Check at the image's first-party source (plain HTTP only for MIRRORS_INSECURE_REGISTRIES)."""
    from artifact_mirrors.oci.client import Registries
    from artifact_mirrors.oci.env import insecure_registries
    from artifact_mirrors.oci.errors import MirrorError
    from artifact_mirrors.oci.reference import parse_reference
    from artifact_mirrors.oci.signatures import check_policy

    def checker(image: Image, digest: str) -> Verdict:
        assert image.verify is not None
        src = parse_reference(image.source)
        try:
            with Registries(insecure=insecure_registries()) as regs:
                return check_policy(regs.client(src.registry), src.repository, digest, image.verify)
        except MirrorError as exc:
            raise OperationFailedError(f"{image.source}@{digest}: cannot check its signature: "
                                       f"{exc} (image {image.name})") from None  # fmt: skip

    return checker


def check_signatures(
    spec: Spec, pinned: tuple[PinnedImage, ...], checker: SignatureChecker
) -> tuple[PinnedImage, ...]:
    """Every image with a ``verify:`` policy, checked at its source before anything is written;
    ``required: true`` refuses a digest without a valid signature (exit 1, nothing written)."""
    out: list[PinnedImage] = []
    for im in pinned:
        image = spec.images[im.name]
        if image.verify is None:
            out.append(im)
            continue
        verdict = checker(image, im.digest)
        if verdict.ok:
            out.append(replace(im, signature=verdict.reason))
            continue
        if image.verify.required:
            key = " ".join(f"--key {k.name}" for k in image.verify.keys) or " ".join(
                f"--certificate-identity {k.identity} --certificate-oidc-issuer {k.issuer}"
                for k in image.verify.keyless[:1]
            )
            raise OperationFailedError(
                f"{image.source}@{im.digest}: not validly signed: {verdict.reason} (image "
                f"{image.name}). Hint: nothing was written; the policy requires a signature: "
                f"`cosign verify {key} {image.source}@{im.digest}` shows what the vendor signed"
            )
        out.append(replace(im, signature=f"not validly signed: {verdict.reason} (not required)"))
    return tuple(out)


def resolve_images(spec: Spec, version: str, resolver: ImageResolver) -> tuple[PinnedImage, ...]:
    pinned: list[PinnedImage] = []
    for image in spec.images.values():
        ref = f"{image.source}:{version}"
        found = resolver(ref)
        if found is None:
            raise OperationFailedError(
                f"{ref}: tag not found (image {image.name}). Hint: check that release {version}"
                f" was published to {image.source}, or pin the digests with --from-json"
            )
        digest, platforms = found
        pinned.append(PinnedImage(image.name, ref, digest, tuple(platforms)))
    return tuple(pinned)


# ---- AMIs ----------------------------------------------------------------------------------------


def edition_keys(amis: AmiSpec) -> list[EditionKey]:
    return [EditionKey(e.edition, e.arch, e.fips) for e in amis.editions]


def resolve_amis(amis: AmiSpec, version: str, ec2_client: EC2Client) -> tuple[ResolvedAmi, ...]:
    """One AMI per spec edition; raises the library's AmiResolveError (exact message) if not."""
    t = amis.tags
    # The Pulumi layer tags mirrors with the edition name as written in the spec (mirror_tags),
    # so the edition tag value is the spec's edition name, whatever it is.
    values = TagValues(editions={e.edition: e.edition for e in amis.editions})
    return tuple(
        find_release_amis(
            ec2_client,
            amis.source_account,
            version,
            TagNames(t.version, t.edition, t.arch, t.fips),
            edition_keys(amis),
            values,
        )
    )


# ---- the manifest --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provenance:
    """Who wrote the manifest, when, and how each half was resolved (the header comment)."""

    user: str
    when: datetime
    images_how: str
    amis_how: str
    charts_how: str = ""


def header(version: str, p: Provenance) -> str:
    when = p.when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"Release {version}, pinned by `mirrors release add` on {when} by {p.user}.\n"
        f"Images: {p.images_how}.\n"
        f"AMIs: {p.amis_how}.\n"
        + (p.charts_how and f"Charts: {p.charts_how}.\n")
        + "Nothing moves by tag after this point: digests and AMI ids are the identity.\n"
    )


def render_manifest(release: ResolvedRelease, provenance: Provenance) -> str:
    doc = CommentedMap()
    doc["version"] = release.version
    doc["channel"] = release.channel
    images = CommentedMap()
    for im in release.images:
        platforms = CommentedSeq(im.platforms)
        platforms.fa.set_flow_style()  # [linux/amd64, linux/arm64], as hand-written manifests
        images[im.name] = CommentedMap([("digest", im.digest), ("platforms", platforms)])
    doc["images"] = images
    amis = CommentedSeq()
    for ami in release.amis:
        amis.append(
            CommentedMap(
                [
                    ("id", ami.id),
                    ("name", ami.name),
                    ("region", ami.region),
                    ("arch", ami.arch),
                    ("edition", ami.edition),
                    ("fips", ami.fips),
                ]
            )
        )
    doc["amis"] = amis
    if release.terraform_providers:
        doc["terraform_providers"] = _providers_block(release.terraform_providers)
    if release.charts:
        doc["charts"] = _charts_block(release.charts)
    doc.yaml_set_start_comment(header(release.version, provenance))
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never fold a long AMI name or digest
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue()


def _providers_block(providers: tuple[ReleaseProvider, ...]) -> CommentedMap:
    from ruamel.yaml.scalarstring import LiteralScalarString

    block = CommentedMap()
    for rp in providers:
        protocols = CommentedSeq(rp.protocols)
        protocols.fa.set_flow_style()
        platforms = CommentedMap()
        for platform, p in sorted(rp.packages.items()):
            platforms[platform] = CommentedMap(
                [
                    ("filename", p.filename),
                    ("url", p.url),
                    ("sha256", p.sha256),
                    ("h1", p.h1),
                    ("sums_url", p.sums_url),
                    ("sums_sha256", p.sums_sha256),
                    ("sums_signature_url", p.sums_signature_url),
                    ("sums_signature_sha256", p.sums_signature_sha256),
                ]
            )
        armor = rp.ascii_armor if rp.ascii_armor.endswith("\n") else rp.ascii_armor + "\n"
        block[rp.name] = CommentedMap(
            [
                ("version", rp.version),
                ("protocols", protocols),
                (
                    "signing_key",
                    CommentedMap([("id", rp.key_id), ("ascii_armor", LiteralScalarString(armor))]),
                ),
                ("platforms", platforms),
            ]
        )
    return block


def _charts_block(charts: tuple[ReleaseChart, ...]) -> CommentedMap:
    block = CommentedMap()
    for c in charts:
        fields = [("version", c.version), ("digest", c.digest)]
        for key in ("url", "sha256", "prov_url", "prov_sha256", "created"):
            value = getattr(c, key)
            if value is not None:
                fields.append((key, value))
        block[c.name] = CommentedMap(fields)
    return block


def write_manifest(
    text: str, version: str, spec_file: Path, releases_dir: Path, display: Path
) -> Path:
    """Validate ``text`` as ``releases_dir/<version>.yaml`` with `load_project`, then put it in
    place atomically without overwriting anything. Returns the written path.

    The staging directory lives inside ``releases_dir`` (same file system, so the final link is
    atomic; hidden and not ``*.yaml``, so no loader ever reads it).
    """
    final = manifest_path(releases_dir, version)
    with tempfile.TemporaryDirectory(dir=releases_dir, prefix=".release-add-") as tmp:
        staged = Path(tmp) / final.name
        with staged.open("x", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            load_project(spec_file, Path(tmp))
        except SpecErrors as exc:
            # Point at the file the user will look for; it was not written.
            errors = [replace(e, file=display) if e.file == staged else e for e in exc.errors]
            raise BadInputError(
                f"{display}: not written: the resolved manifest is invalid\n"
                + str(SpecErrors(errors))
            ) from None
        try:
            os.link(staged, final)  # fails if `final` exists: never overwrite a pinned release
        except FileExistsError:
            raise BadInputError(already_exists_message(display, version)) from None
        except OSError:
            # File systems without hard links: the early existence check has to do.
            if final.exists():
                raise BadInputError(already_exists_message(display, version)) from None
            os.replace(staged, final)
    return final


def summary_rows(release: ResolvedRelease) -> list[tuple[str, str, str, str]]:
    """(kind, name, pinned identity, detail) for the summary table."""
    rows = [
        (
            "image",
            im.name,
            im.digest,
            "; ".join(filter(None, (", ".join(im.platforms), im.signature))),
        )
        for im in release.images
    ]
    rows += [
        ("ami", ami_key(ami.edition, ami.arch, ami.fips), ami.id, f"{ami.region} {ami.name}")
        for ami in sorted(release.amis, key=lambda a: a.key)
    ]
    rows += [
        ("terraform", f"{rp.name} {platform}", p.sha256, f"{p.filename} signed by {rp.key_id}")
        for rp in release.terraform_providers
        for platform, p in sorted(rp.packages.items())
    ]
    rows += [
        ("chart", f"{c.name} {c.version}", c.digest, c.url or "OCI source") for c in release.charts
    ]
    return rows


def current_user() -> str:
    import getpass

    with contextlib.suppress(OSError, KeyError):
        return getpass.getuser()
    return "unknown user"


def describe_ami_lookup(amis: AmiSpec, version: str) -> str:
    t = amis.tags
    return (
        f"found by tags {t.version}={version}, {t.edition}, {t.arch}, {t.fips} in account"
        f" {amis.source_account} {amis.source_region} (never by name)"
    )


def describe_images(how: str, count: int) -> str:
    return f"{count} tag(s) resolved to digests by {how}"
