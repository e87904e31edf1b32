"""Load and check ``destinations.yaml`` and ``releases/*.yaml``; each problem is a located error.

Checks run in three layers: YAML syntax, the pydantic schema (types, unknown keys, formats), then
rules that need the whole picture (registry references, regions per partition, duplicate
destinations, release images the spec knows, label templates that render). All problems of all
files are collected before anything is raised, so one run of `mirrors validate` shows everything.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import semver
from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from artifact_mirrors import regions as aws_regions
from artifact_mirrors.floating import FLOATING_FIELDS, check_floating_template
from artifact_mirrors.labels import (
    SHORT_DESCRIPTION_LIMIT,
    TemplateProblem,
    check_templates,
    image_description,
)
from artifact_mirrors.spec import chart_checks, model, schema, terraform_checks
from artifact_mirrors.spec.errors import PathPart, SpecError, SpecErrors, show_value
from artifact_mirrors.spec.yamlio import Document, load_document, plain
from artifact_mirrors.window import check_pins, check_window

M = TypeVar("M", bound=BaseModel)

SPEC_HINT = "see 'Spec reference' in README.md"
VERSION_HINT = "write MAJOR.MINOR.PATCH without a leading v, e.g. 17.0.1"
PUBLIC_DEPRECATION_LIMIT = timedelta(days=730)


class _Collector:
    def __init__(self) -> None:
        self.errors: list[SpecError] = []

    def add(
        self,
        doc: Document,
        path: Sequence[PathPart],
        problem: str,
        got: object = None,
        *,
        hint: str = "",
        has_value: bool = True,
        key: bool = False,
    ) -> None:
        line = doc.key_line(path) if key else doc.line_of(path)
        self.errors.append(SpecError(doc.file, line, tuple(path), problem, got, has_value, hint))

    def extend(self, errors: Iterable[SpecError]) -> None:
        self.errors.extend(errors)

    def unknown_name(
        self, doc: Document, path: Sequence[PathPart], what: str, name: str, section: str,
        names: Iterable[str],
    ) -> None:  # fmt: skip
        """A release names a ``what`` the spec's ``section`` lacks (the closest name hinted)."""
        close = difflib.get_close_matches(name, list(names), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        self.add(
            doc,
            path,
            f"{what} is not in the spec",
            name,
            key=True,
            hint=hint + f"add it to {section} in destinations.yaml or remove it here",
        )


# ---- pydantic errors -> SpecError ----------------------------------------------------------------

_HINTS: dict[str, str] = {
    "not a sha256 digest": "write 'sha256:' and 64 lowercase hex digits, as `crane digest` prints",
    "not an AMI id": "write ami- and 8 or 17 hex digits, e.g. ami-0dad0715e47832e55",
    "not a 12-digit AWS account id": "quote it so YAML keeps it a string: '146628656107'",
    "not an AWS Organizations organization ARN": (
        "e.g. arn:aws:organizations::123456789012:organization/o-exampleorgid"
    ),
    "not an AWS Organizations OU ARN": (
        "e.g. arn:aws:organizations::123456789012:ou/o-exampleorgid/ou-ab12-cdef3456"
    ),
    "not a valid name": "use lowercase letters, digits and single . _ - separators",
    "not a valid repository path": "use lowercase path components separated by /",
    "not a host name (with optional :port)": "e.g. quay.io or 127.0.0.1:5000, no scheme",
    "not a sha256 in hex": "write 64 lowercase hex digits (mirrors release add pins them)",
    "not a 16-digit hex GPG key id": "write the key id as the registry's download document "
    "names it, e.g. 34365D9472D7468F",
    "not an h1: hash": "write Terraform's h1: hash (mirrors release add computes it)",
}


def _allowed_keys(model_cls: type[BaseModel], loc: Sequence[PathPart]) -> list[str]:
    """Walk the schema along ``loc`` to list the keys allowed where an unknown key was found."""
    current: Any = model_cls
    for part in loc:
        current = _descend(current, part)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _descend(annotation: Any, part: PathPart) -> Any:
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _descend(arg, part)
            if found is not None:
                return found
        return None
    if origin is typing.Annotated:
        return _descend(typing.get_args(annotation)[0], part)
    if origin is list:
        return typing.get_args(annotation)[0] if isinstance(part, int) else None
    if origin is dict:
        return typing.get_args(annotation)[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, f in annotation.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
    return None


def _validate(doc: Document, cls: type[M], data: Any, out: _Collector) -> M | None:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key shows up twice: as unknown and as the missing key it was meant to be.
        # Report it once, as the unknown key (with a did-you-mean hint).
        misspelt = {
            (tuple(e["loc"][:-1]), m)
            for e in errors
            if e["type"] == "extra_forbidden"
            for m in difflib.get_close_matches(
                str(e["loc"][-1]), _allowed_keys(cls, list(e["loc"][:-1])), n=1
            )
        }
        for err in errors:
            if err["type"] == "missing" and (tuple(err["loc"][:-1]), err["loc"][-1]) in misspelt:
                continue
            loc: list[PathPart] = [p for p in err["loc"] if p != "[key]"]
            kind = err["type"]
            value = err.get("input")
            if kind == "extra_forbidden":
                allowed = _allowed_keys(cls, loc[:-1])
                close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                hint += f"allowed keys here: {', '.join(allowed)}" if allowed else SPEC_HINT
                out.add(doc, loc, "unknown key", loc[-1], hint=hint, key=True)
            elif kind == "missing":
                out.add(
                    doc,
                    loc,
                    "required key is missing",
                    has_value=False,
                    hint=f"add '{loc[-1]}:'"
                    + (" here or in defaults.image" if loc[:1] == ["images"] else ""),
                )
            elif kind == "value_error":
                problem = str(err["msg"]).removeprefix("Value error, ")
                out.add(doc, loc, problem, value, hint=_HINTS.get(problem, SPEC_HINT))
            elif cls is schema.ReleaseIn and loc == ["version"] and kind == "string_type":
                # `version: 18.6` is the number 18.6 to YAML; quoting it would not make it a
                # release version either.
                out.add(doc, loc, "not a semantic version", value, hint=VERSION_HINT)
            else:
                problem = str(err["msg"]).replace("Input should be", "must be")
                if "[key]" in err["loc"]:
                    problem = "key " + problem
                    value = err["loc"][-2] if len(err["loc"]) > 1 else value
                out.add(doc, loc, problem, value, hint=_type_hint(kind, value))
        return None


def _type_hint(kind: str, value: object) -> str:
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return "quote it so YAML keeps it a string"
    if kind == "bool_type":
        return "write true or false without quotes"
    if kind in ("list_type",):
        return "write a YAML list: [a, b] or one '- item' per line"
    return SPEC_HINT


# ---- destinations.yaml ---------------------------------------------------------------------------


def _merge_image_defaults(root: CommentedMap) -> set[tuple[int, str]]:
    """regsync-style defaults: keys under ``defaults.image`` fill the keys an image leaves out.

    The merged value keeps the line of the defaults block, so errors in it point there; the
    (image index, key) pairs merged are returned so that such an error is reported once, at
    ``defaults.image``, not once per image. Keys that are no defaults key (a typo) are not
    merged: the defaults schema reports them once.
    """
    merged: set[tuple[int, str]] = set()
    defaults = root.get("defaults")
    image_defaults = defaults.get("image") if isinstance(defaults, CommentedMap) else None
    images = root.get("images")
    if not isinstance(image_defaults, CommentedMap) or not isinstance(images, CommentedSeq):
        return merged
    allowed = set(schema.ImageDefaults.model_fields)
    for i, entry in enumerate(images):
        if not isinstance(entry, CommentedMap):
            continue
        for key, value in image_defaults.items():
            if key in allowed and key not in entry and value is not None:
                entry[key] = value
                entry.lc.data[key] = image_defaults.lc.data.get(key)
                merged.add((i, key))
    return merged


def _fold_defaults(errors: list[SpecError], merged: set[tuple[int, str]]) -> list[SpecError]:
    """An error inside a value merged from ``defaults.image`` -> one error at the defaults key."""
    out: list[SpecError] = []
    seen: set[tuple[object, ...]] = set()
    for e in errors:
        p = e.path
        if len(p) >= 3 and p[0] == "images" and isinstance(p[1], int) and (p[1], p[2]) in merged:
            e = replace(e, path=("defaults", "image", *p[2:]))
        key = (e.file, e.line, e.path, e.problem, show_value(e.got))
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _region_problem(region: str, partition: aws_regions.Partition) -> tuple[str, str] | None:
    """(problem, hint) when ``region`` cannot be used in ``partition``."""
    owner = aws_regions.partition_of(region)
    if owner == partition:
        return None
    if owner is not None:
        return (
            f"region is in partition {owner}, not {partition}",
            f"move it under amis.partitions.{owner}.regions",
        )
    known = aws_regions.REGIONS[partition]
    close = difflib.get_close_matches(region, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return ("unknown region", hint + f"regions in {partition}: {', '.join(known)}")


def _check_reference(source: str) -> str | None:
    if "://" in source:
        return "write a repository reference without a scheme"
    if "@" in source or re.search(r":[^/]*$", source.split("/", 1)[-1] if "/" in source else ""):
        return "name the repository only; the release manifest pins the digest"
    if "/" not in source:
        return "include the registry host, e.g. public.ecr.aws/gravitational/teleport"
    return None


def _spec_checks(doc: Document, s: schema.DestinationsIn, out: _Collector) -> model.Spec:
    spec_dir = doc.file.parent
    registries: dict[str, model.Registry] = {}
    destinations: dict[tuple[str, str], int] = {}
    for i, r in enumerate(s.registries):
        if r.name in registries:
            out.add(
                doc,
                ("registries", i, "name"),
                "duplicate registry name",
                r.name,
                hint="give each registry a unique name",
            )
            continue
        host = r.host or model.DEFAULT_HOSTS.get(r.kind)
        if host is None:
            out.add(
                doc,
                ("registries", i),
                f"registry kind {r.kind} needs a host",
                has_value=False,
                hint="add 'host:', e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com",
            )
            continue
        dest = (host, r.namespace)
        if dest in destinations:
            j = destinations[dest]
            out.add(
                doc,
                ("registries", i, "namespace"),
                f"duplicate destination: same host and namespace as registries[{j}]",
                f"{host}/{r.namespace}",
                hint="mirror each destination once",
            )
        destinations.setdefault(dest, i)
        if r.kind == "ecr" and not r.region:
            out.add(
                doc,
                ("registries", i),
                "registry kind ecr needs a region",
                has_value=False,
                hint="add 'region:', the ECR registry's AWS region",
            )
        if r.kind == "ecr-public" and r.region not in (None, aws_regions.ECR_PUBLIC_API_REGION):
            out.add(
                doc,
                ("registries", i, "region"),
                "ECR Public is managed from us-east-1 only",
                r.region,
                hint="remove 'region:' or set it to us-east-1",
            )
        if not r.tls.verify:
            # The copy engine never turns certificate checks off (a mirror pushed over an
            # unverified connection is not the vendor's bits any more); a private CA is supported.
            out.add(
                doc,
                ("registries", i, "tls", "verify"),
                "TLS verification cannot be turned off",
                False,
                hint="give the registry's CA certificate with tls.ca_file (or insecure: true for "
                "a plain-HTTP oci test registry)",
            )
        if r.insecure and r.kind != "oci":
            out.add(
                doc,
                ("registries", i, "insecure"),
                f"plain HTTP is not allowed for {r.kind}",
                True,
                hint="insecure: true is only for kind oci test registries",
            )
        registries[r.name] = model.Registry(
            name=r.name,
            kind=r.kind,
            host=host,
            namespace=r.namespace,
            region=r.region,
            insecure=r.insecure,
            tls_verify=r.tls.verify,
            ca_file=r.tls.ca_file,
            credentials=model.CredentialSource(
                source=r.credentials.source,
                username_env=r.credentials.username_env,
                password_env=r.credentials.password_env,
                api_token_env=r.credentials.api_token_env,
                config_key=r.credentials.config_key,
                profile=r.credentials.profile,
            ),
        )

    images: dict[str, model.Image] = {}
    repos: dict[tuple[str, str], int] = {}
    for i, im in enumerate(s.images):
        if im.name in images:
            out.add(
                doc,
                ("images", i, "name"),
                "duplicate image name",
                im.name,
                hint="each image is listed once; add registries to its list instead",
            )
            continue
        problem = _check_reference(im.source)
        if problem:
            out.add(
                doc, ("images", i, "source"), "not a repository reference", im.source, hint=problem
            )
        repository = im.repository or im.name
        for j, reg in enumerate(im.registries):
            if reg not in registries:
                close = difflib.get_close_matches(reg, list(registries), n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                out.add(
                    doc,
                    ("images", i, "registries", j),
                    "unknown registry",
                    reg,
                    hint=hint + f"registries defined: {', '.join(registries) or 'none'}",
                )
                continue
            key = (reg, repository)
            if key in repos:
                out.add(
                    doc,
                    ("images", i, "registries", j),
                    f"duplicate destination: images[{repos[key]}] already mirrors to "
                    f"{registries[reg].repository(repository)}",
                    reg,
                    hint="set a different 'repository:' for one of them",
                )
            repos.setdefault(key, i)
        if len(set(im.registries)) != len(im.registries):
            out.add(
                doc,
                ("images", i, "registries"),
                "registry listed twice",
                ", ".join(im.registries),
                hint="list each registry once",
            )
        for channel, templates in im.floating_tags.items():
            for k, template in enumerate(templates):
                problem = check_floating_template(template)
                if problem:
                    out.add(
                        doc,
                        ("images", i, "floating_tags", channel, k),
                        problem,
                        template,
                        hint=f"use the fields {', '.join(FLOATING_FIELDS)} or a fixed "
                        "word like latest; the release's own tag is never floating",
                    )
        images[im.name] = model.Image(
            name=im.name,
            source=im.source,
            repository=repository,
            platforms=tuple(im.platforms),
            registries=tuple(dict.fromkeys(im.registries)),
            floating_tags={c: tuple(t) for c, t in im.floating_tags.items()},
            signatures=im.signatures,
            description=im.description,
            verify=_verify_policy(doc, ("images", i, "verify"), im.verify, spec_dir, out)
            if im.verify is not None
            else None,
        )

    amis = _ami_checks(doc, s.amis, out) if s.amis else None
    labels = model.Labels(
        image_description=spec_dir / s.labels.image_description,
        image_full_description=spec_dir / s.labels.image_full_description,
        ami_description=spec_dir / s.labels.ami_description,
    )
    # The supported-release window (artifact_mirrors/window.py); pins are checked with releases.
    window = None
    if s.window is not None:
        window = model.Window(s.window.majors, s.window.patches, tuple(s.window.pinned))
        out.extend(check_window(doc, window))
    providers = terraform_checks.spec_providers(doc, s.terraform_providers, out, _region_problem)
    image_repos = {(reg, im.repository) for im in images.values() for reg in im.registries}
    charts = chart_checks.spec_charts(doc, s, registries, image_repos, out)
    return model.Spec(
        doc.file,
        labels,
        registries,
        images,
        amis,
        window,
        terraform_providers=providers,
        charts=charts,
    )


TRUSTED_ROOT_TYPE = "application/vnd.dev.sigstore.trustedroot+json"
KEY_HINT = (
    "write the path (relative to the spec) of the vendor's PEM public key, as `cosign public-key`"
    " prints it"
)


def _verify_policy(
    doc: Document,
    base: tuple[PathPart, ...],
    v: schema.VerifyIn,
    spec_dir: Path,
    out: _Collector,
) -> model.VerifyPolicy:
    """Read the policy's key and trusted-root files now: a bad file fails `mirrors validate`,
    not a copy."""
    from artifact_mirrors.oci.signatures import KeyFileError, VerifyKey

    keys: list[model.PolicyKey] = []
    for j, name in enumerate(v.keys):
        path = (*base, "keys", j)
        file = spec_dir / name
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            out.add(doc, path, "key file not found", name, hint=KEY_HINT)
            continue
        except OSError as exc:
            out.add(doc, path, f"cannot read the key file ({exc.strerror})", name, hint=KEY_HINT)
            continue
        try:
            key = VerifyKey.from_pem(file.name, data)
        except KeyFileError as exc:
            out.add(doc, path, exc.problem, name, hint=KEY_HINT)
            continue
        keys.append(model.PolicyKey(file.name, data.decode("ascii"), key.fingerprint))
    keyless: list[model.KeylessPolicy] = []
    for j, k in enumerate(v.keyless):
        path = (*base, "keyless", j)
        missing = False
        for needed, problem, hint in (
            ("identity", "keyless needs the certificate identity", "add 'identity:', the "
             "signer's email or workflow URI exactly as the certificate names it"),
            ("issuer", "keyless needs the OIDC issuer", "add 'issuer:', e.g. "
             "https://token.actions.githubusercontent.com"),
            ("trusted_root", "keyless needs an offline trusted root", "add 'trusted_root:', the "
             "sigstore trusted_root.json of the Fulcio and Rekor instances that sign"),
        ):  # fmt: skip
            if getattr(k, needed) is None:
                out.add(doc, path, problem, has_value=False, hint=hint)
                missing = True
        if missing:
            continue
        assert k.identity is not None and k.issuer is not None and k.trusted_root is not None
        if not k.issuer.startswith("https://"):
            out.add(
                doc,
                (*path, "issuer"),
                "not an https URL",
                k.issuer,
                hint="write the issuer as the certificate names it, e.g. "
                "https://token.actions.githubusercontent.com",
            )
            continue
        root = _trusted_root(doc, (*path, "trusted_root"), spec_dir, k.trusted_root, out)
        if root is not None:
            name = (spec_dir / k.trusted_root).name
            keyless.append(model.KeylessPolicy(k.identity, k.issuer, name, root))
    if v.required and not v.keys and not v.keyless:
        out.add(
            doc,
            (*base, "required"),
            "a required signature needs keys or keyless",
            True,
            hint="add 'keys:' (PEM files) or 'keyless:' (identity, issuer, trusted_root)",
        )
    return model.VerifyPolicy(v.required, tuple(keys), tuple(keyless))


def _trusted_root(
    doc: Document, path: tuple[PathPart, ...], spec_dir: Path, name: str, out: _Collector
) -> str | None:
    import json

    hint = "write the path (relative to the spec) of sigstore's trusted_root.json"
    try:
        text = (spec_dir / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        out.add(doc, path, "trusted root file not found", name, hint=hint)
        return None
    except (OSError, UnicodeDecodeError):
        out.add(doc, path, "cannot read the trusted root file", name, hint=hint)
        return None
    try:
        root = json.loads(text)
    except ValueError:
        root = None
    media = str(root.get("mediaType", "")) if isinstance(root, dict) else ""
    if not media.startswith(TRUSTED_ROOT_TYPE):
        out.add(doc, path, f"not a sigstore trusted root (no mediaType {TRUSTED_ROOT_TYPE})",
                name, hint=hint)  # fmt: skip
        return None
    return text


def _ami_checks(doc: Document, a: schema.AmisIn, out: _Collector) -> model.AmiSpec:
    base: tuple[PathPart, ...] = ("amis",)
    if (src := _region_problem(a.source.region, "aws")) is not None:
        out.add(doc, (*base, "source", "region"), src[0], a.source.region, hint=src[1])
    editions: dict[str, model.Edition] = {}
    for i, e in enumerate(a.editions):
        ed = model.Edition(e.edition, e.arch, e.fips)
        if ed.key in editions:
            out.add(
                doc,
                (*base, "editions", i),
                "duplicate edition",
                ed.key,
                hint="list each edition/arch/fips combination once",
            )
        editions[ed.key] = ed
    partitions: dict[aws_regions.Partition, model.PartitionTarget] = {}
    for name, p in a.partitions.items():
        ppath: tuple[PathPart, ...] = (*base, "partitions", name)
        default_regions = (
            aws_regions.DEFAULT_COMMERCIAL_REGIONS
            if name == "aws"
            else aws_regions.GOVCLOUD_REGIONS
        )
        region_list = tuple(p.regions) if p.regions is not None else default_regions
        seen: set[str] = set()
        for i, region in enumerate(region_list):
            if region in seen:
                out.add(
                    doc,
                    (*ppath, "regions", i),
                    "duplicate region",
                    region,
                    hint="list each region once",
                )
            seen.add(region)
            if (rp := _region_problem(region, name)) is not None:
                out.add(doc, (*ppath, "regions", i), rp[0], region, hint=rp[1])
        for region in p.kms_keys:
            if region not in seen:
                out.add(
                    doc,
                    (*ppath, "kms_keys", region),
                    "KMS key for a region not mirrored to",
                    region,
                    hint=f"add {region} to regions or remove the key",
                    key=True,
                )
        if p.kms_keys and not p.encrypted:
            out.add(
                doc,
                (*ppath, "encrypted"),
                "kms_keys need encrypted: true",
                False,
                hint="set encrypted: true",
            )
        if p.encrypted and p.launch_permissions.public:
            # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/sharingamis-intro.html
            out.add(
                doc,
                (*ppath, "launch_permissions", "public"),
                "AMIs with encrypted snapshots cannot be made public",
                True,
                hint="share encrypted AMIs with accounts or organizations instead",
            )
        if name == "aws-us-gov" and p.transfer is None:
            out.add(
                doc,
                ppath,
                "GovCloud needs a transfer: CopyImage cannot cross partitions",
                has_value=False,
                hint="add 'transfer:' with landing_region, source_bucket "
                "(in aws) and destination_bucket (in aws-us-gov)",
            )
        if p.transfer is not None:
            t = p.transfer
            if name != "aws-us-gov":
                out.add(
                    doc,
                    (*ppath, "transfer"),
                    "transfer is only for aws-us-gov",
                    has_value=False,
                    hint="copies within aws use CopyImage; remove it",
                )
            elif "aws" not in a.partitions or t.source_bucket.region not in (
                a.partitions["aws"].regions or aws_regions.DEFAULT_COMMERCIAL_REGIONS
            ):
                out.add(
                    doc,
                    (*ppath, "transfer", "source_bucket", "region"),
                    "the transfer starts from the commercial mirror in this region, which "
                    "amis.partitions.aws does not mirror to",
                    t.source_bucket.region,
                    hint="add the region to amis.partitions.aws.regions or move the bucket",
                )
            if name == "aws-us-gov" and t.landing_region not in seen:
                out.add(
                    doc,
                    (*ppath, "transfer", "landing_region"),
                    "landing region is not one of this partition's regions",
                    t.landing_region,
                    hint=f"one of: {', '.join(region_list)}",
                )
            buckets: tuple[tuple[str, aws_regions.Partition], ...] = (
                ("source_bucket", "aws"),
                ("destination_bucket", name),
            )
            for bucket, partition in buckets:
                region = getattr(t, bucket).region
                if (bp := _region_problem(region, partition)) is not None:
                    out.add(doc, (*ppath, "transfer", bucket, "region"), bp[0], region, hint=bp[1])
        deprecate_at: datetime | None = None
        if isinstance(p.deprecate_at, datetime):
            deprecate_at = (
                p.deprecate_at if p.deprecate_at.tzinfo else p.deprecate_at.replace(tzinfo=UTC)
            )
        elif isinstance(p.deprecate_at, date):
            deprecate_at = datetime.combine(p.deprecate_at, time(), tzinfo=UTC)
        if deprecate_at is not None and p.launch_permissions.public:
            # "The upper limit for DeprecateAt is 10 years from now, except for public AMIs,
            # where the upper limit is 2 years from the creation date" (EnableImageDeprecation,
            # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageDeprecation.html).
            # A copy made today is the earliest creation date, so later than that always fails.
            limit = datetime.now(UTC) + PUBLIC_DEPRECATION_LIMIT
            if deprecate_at > limit:
                out.add(
                    doc,
                    (*ppath, "deprecate_at"),
                    "public AMIs cannot deprecate more than 2 years after they are created",
                    p.deprecate_at,
                    hint=f"pick a date before {limit:%Y-%m-%d} or remove deprecate_at (AWS "
                    "then deprecates public AMIs 2 years after creation; mirrors verify warns "
                    "ahead of it)",
                )
        lp = p.launch_permissions
        partitions[name] = model.PartitionTarget(
            partition=name,
            account=p.account,
            profile=p.profile,
            regions=region_list,
            launch_permissions=model.LaunchPermissions(
                lp.public,
                tuple(lp.accounts),
                tuple(lp.organizations),
                tuple(lp.organizational_units),
                lp.snapshot_create_volume,
            ),
            block_public_access=p.block_public_access,
            encrypted=p.encrypted,
            kms_keys=dict(p.kms_keys),
            deprecate_at=deprecate_at,
            copy_timeout_minutes=p.copy_timeout_minutes,
            transfer=model.Transfer(
                p.transfer.landing_region,
                model.Bucket(p.transfer.source_bucket.name, p.transfer.source_bucket.region),
                model.Bucket(
                    p.transfer.destination_bucket.name, p.transfer.destination_bucket.region
                ),
                p.transfer.timeout_minutes,
            )
            if p.transfer
            else None,
        )
    tn = a.tags
    return model.AmiSpec(
        a.source.account,
        a.source.region,
        model.TagNames(tn.version, tn.edition, tn.arch, tn.fips),
        tuple(editions.values()),
        partitions,
    )


# ---- releases/<version>.yaml ---------------------------------------------------------------------


def _release_checks(
    doc: Document, r: schema.ReleaseIn, spec: model.Spec | None, out: _Collector
) -> model.Release | None:
    try:
        version = semver.Version.parse(r.version)
    except ValueError:
        out.add(
            doc,
            ("version",),
            "not a semantic version",
            r.version,
            hint=VERSION_HINT,
        )
        return None
    if doc.file.stem != r.version:
        out.add(
            doc,
            ("version",),
            f"does not match the file name {doc.file.name}",
            r.version,
            hint=f"rename the file to {r.version}.yaml",
        )
    if r.yanked and not r.reason:
        out.add(
            doc,
            ("yanked",),
            "a yanked release needs a reason",
            True,
            hint="add 'reason:' (it goes into the audit record)",
        )
    images: dict[str, model.ReleaseImage] = {}
    for name, im in r.images.items():
        known = spec.images.get(name) if spec else None
        if spec is not None and known is None:
            out.unknown_name(doc, ("images", name), "image", name, "images", spec.images)
            continue
        if known is not None and known.platforms:
            for k, platform in enumerate(im.platforms):
                # A declared os/arch covers its variants: linux/arm covers linux/arm/v7.
                if not any(platform == d or platform.startswith(d + "/") for d in known.platforms):
                    out.add(
                        doc,
                        ("images", name, "platforms", k),
                        f"platform not declared for image {name}",
                        platform,
                        hint=f"declared: {', '.join(known.platforms)}",
                    )
        images[name] = model.ReleaseImage(name, im.digest, tuple(im.platforms))
    amis: list[model.ReleaseAmi] = []
    seen: dict[str, int] = {}
    ami_spec = spec.amis if spec else None
    if r.amis and spec is not None and ami_spec is None:
        out.add(
            doc,
            ("amis",),
            "the spec mirrors no AMIs",
            has_value=False,
            hint="add an 'amis:' section to destinations.yaml or remove this list",
        )
    for i, a in enumerate(r.amis):
        ami = model.ReleaseAmi(a.id, a.name, a.region, a.arch, a.edition, a.fips)
        if (rp := _region_problem(a.region, "aws")) is not None:
            out.add(doc, ("amis", i, "region"), rp[0], a.region, hint=rp[1])
        if ami.key in seen:
            out.add(
                doc,
                ("amis", i),
                f"duplicate AMI for {ami.key}: amis[{seen[ami.key]}] "
                "has the same edition, arch and fips",
                a.id,
                hint="pin one source AMI per edition and architecture",
            )
        seen.setdefault(ami.key, i)
        if ami_spec is not None and ami.key not in {e.key for e in ami_spec.editions}:
            out.add(
                doc,
                ("amis", i, "edition"),
                f"{ami.key} is not an edition the spec mirrors",
                a.edition,
                hint="editions: " + ", ".join(e.key for e in ami_spec.editions),
            )
        if r.version not in a.name:
            out.add(
                doc,
                ("amis", i, "name"),
                f"AMI name does not mention release {r.version}",
                a.name,
                hint="check that the right AMI is pinned (mirrors release add "
                "resolves them by tags)",
            )
        amis.append(ami)
    providers = terraform_checks.release_providers(doc, r, spec, out)
    charts = chart_checks.release_charts(doc, r, spec, out)
    return model.Release(
        doc.file,
        version,
        r.channel,
        r.yanked,
        r.reason,
        images,
        tuple(amis),
        r.pinned,
        terraform_providers=providers,
        charts=charts,
    )


# ---- entry points --------------------------------------------------------------------------------


def _catching(out: _Collector, fn: Callable[[], Document]) -> Document | None:
    try:
        return fn()
    except SpecErrors as exc:
        out.extend(exc.errors)
        return None


def load_spec(spec_file: Path, out: _Collector | None = None) -> model.Spec | None:
    own = out is None
    col = out or _Collector()
    doc = _catching(col, lambda: load_document(spec_file, what="mirror spec"))
    spec: model.Spec | None = None
    if doc is not None:
        start = len(col.errors)
        merged = _merge_image_defaults(doc.root)
        chart_checks.merge_defaults(doc.root)
        parsed = _validate(doc, schema.DestinationsIn, plain(doc.root), col)
        if parsed is not None:
            spec = _spec_checks(doc, parsed, col)
            col.extend(_template_errors(spec, doc))
        col.errors[start:] = _fold_defaults(col.errors[start:], merged)
    if own and col.errors:
        raise SpecErrors(col.errors)
    return spec


def _template_errors(spec: model.Spec, doc: Document) -> list[SpecError]:
    problems: list[TemplateProblem] = check_templates(spec.labels)
    out: list[SpecError] = []
    if not problems:
        # The sample render passed; now every real label that has a length limit.
        for i, image in enumerate(spec.images.values()):
            for reg_name in image.registries:
                reg = spec.registries.get(reg_name)
                if reg is None or reg.kind != "dockerhub":
                    continue
                text = image_description(spec.labels, image, reg)
                if len(text) > SHORT_DESCRIPTION_LIMIT:
                    out.append(
                        SpecError(
                            doc.file,
                            doc.line_of(("images", i, "name")),
                            ("images", i, "name"),
                            f"Docker Hub label renders longer than {SHORT_DESCRIPTION_LIMIT} "
                            "characters",
                            f"{len(text)} characters: {text}",
                            hint=f"shorten {spec.labels.image_description.name}",
                        )
                    )
    for p in problems:
        if p.line is None:
            line = doc.line_of(("labels", p.label))
            out.append(
                SpecError(doc.file, line, ("labels", p.label), p.problem, p.got, hint=p.hint)
            )
        else:
            out.append(
                SpecError(p.file, p.line, ("labels", p.label), p.problem, p.got, hint=p.hint)
            )
    return out


def load_project(spec_file: Path, releases_dir: Path) -> model.Project:
    """Load the spec and every manifest in ``releases_dir``; raise SpecErrors with all problems."""
    col = _Collector()
    spec = load_spec(spec_file, col)
    releases: list[model.Release] = []
    versions: dict[str, Path] = {}
    pinned_lines: dict[str, tuple[Document, int | None]] = {}
    # Files named after a version first: when a stray copy ("18.6.6 copy.yaml") declares the
    # same version, the copy is the one blamed.
    files = sorted(
        [*releases_dir.glob("*.yaml"), *releases_dir.glob("*.yml")],
        key=lambda f: (not semver.Version.is_valid(f.stem), f.suffix != ".yaml", f.name),
    )
    if not releases_dir.is_dir():
        col.errors.append(
            SpecError(
                releases_dir,
                None,
                (),
                "releases directory not found",
                str(releases_dir),
                hint="create it, or set artifact-mirrors:releasesDir in the stack config",
            )
        )
    for file in files:
        doc = _catching(col, partial(load_document, file, what="release manifest"))
        if doc is None:
            continue
        parsed = _validate(doc, schema.ReleaseIn, plain(doc.root), col)
        if parsed is None:
            continue
        release = _release_checks(doc, parsed, spec, col)
        if release is None:
            continue
        if release.name in versions:
            # One line for the copy: the duplicate says more than its file-name mismatch.
            col.errors = [
                e
                for e in col.errors
                if not (e.file == file and e.problem.startswith("does not match the file name"))
            ]
            col.add(
                doc,
                ("version",),
                f"release already defined in {versions[release.name]}",
                release.name,
                hint="keep one manifest per release: delete this copy",
            )
            continue
        versions[release.name] = file
        releases.append(release)
        if release.pinned:
            pinned_lines[release.name] = (doc, doc.line_of(("pinned",)))
    if spec is not None:
        # Window pins name manifests; a manifest's pin needs a window (artifact_mirrors/window.py).
        spec_doc = None
        if spec.window is not None and spec.window.pinned:
            spec_doc = _catching(col, lambda: load_document(spec_file, what="mirror spec"))
        col.extend(check_pins(spec_doc, spec.window, releases, pinned_lines))
    if col.errors or spec is None:
        raise SpecErrors(col.errors)
    releases.sort(key=lambda r: r.version)
    return model.Project(spec, tuple(releases))
