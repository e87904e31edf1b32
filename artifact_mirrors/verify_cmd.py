"""`mirrors verify --stack NAME`: reading the stack, AMI expectations, JSON.

The AMI half lives here (is every AMI the stack mirrored still what it should be?); the image
half, the same outputs' ``images`` and ``floating_tags``, in artifact_mirrors/verify_images.py.

Inputs are the stack's outputs (``pulumi stack output --json``: release -> ``amis`` ->
``"<partition>/<region>/<key>": ami-…``, written by components/release.py) and the spec plus
release manifests (what each AMI should look like). Expectations per AMI:

- launch permissions: the partition's ``launch_permissions``; none at all for a yanked release
  (one update revokes every grant; a yanked AMI still public is exactly what verify must catch);
- root snapshot createVolumePermission: the partition's ``accounts`` when
  ``snapshot_create_volume`` is on, otherwise none; none at all for a yanked release;
- tags: :func:`artifact_mirrors.mirror_tags.mirror_tags`, the rule the Pulumi layer tags with;
- available, not deprecated (warning within ``--warn-days``).

A release counts as yanked when its manifest or the deployed outputs say so: a recall that has
not been applied yet is drift, not a pass.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from artifact_mirrors.aws import ExpectedAmi, Finding, LaunchPermissions, Severity
from artifact_mirrors.aws.report import order
from artifact_mirrors.command_errors import BadInputError, OperationFailedError, located
from artifact_mirrors.mirror_tags import MIRROR_EDITION, MIRROR_RELEASE, mirror_tags
from artifact_mirrors.regions import partition_of
from artifact_mirrors.spec.model import PartitionTarget, Project, Release
from artifact_mirrors.steps import COMPUTED

if TYPE_CHECKING:
    from artifact_mirrors.verify_images import SignatureReport

SCHEMA = "artifact-mirrors/verify/v1"
CONFIG_NAMESPACE = "artifact-mirrors"  # naming.PROJECT; the stack config keys' namespace
DEFAULT_SPEC = "mirrors/destinations.yaml"
DEFAULT_RELEASES = "mirrors/releases"
OUTPUTS_HINT = "pass --outputs FILE, the output of `pulumi stack output --json -s {stack}`"

NOT_COPIED = (
    f"{COMPUTED}: not copied yet (outputs from `mirrors plan --format outputs`); put the copy's "
    "id there or run pulumi up"
)
CHECK_MANIFEST = "manifest"
CHECK_DEPLOYED = "deployed"
CHECK_SPEC = "spec"


# ---- where things are ----------------------------------------------------------------------------


def stack_file(root: Path, stack: str) -> Path:
    return root / "stacks" / f"Pulumi.{stack}.yaml"


def stack_paths(root: Path, stack: str, display: Path) -> tuple[Path, Path]:
    """(spec file, releases dir) from ``stacks/Pulumi.<stack>.yaml``'s plain config."""
    file = stack_file(root, stack)
    try:
        data: Any = YAML(typ="safe").load(file.read_text(encoding="utf-8")) or {}
    except YAMLError as exc:
        raise BadInputError(
            located(str(display), "not valid YAML", str(exc).splitlines()[0], "fix the syntax")
        ) from None
    config = data.get("config") if isinstance(data, dict) else None
    config = config if isinstance(config, dict) else {}

    def value(key: str, default: str) -> str:
        got = config.get(f"{CONFIG_NAMESPACE}:{key}", config.get(key))
        return got if isinstance(got, str) and got else default

    return root / value("spec", DEFAULT_SPEC), root / value("releasesDir", DEFAULT_RELEASES)


# ---- stack outputs -------------------------------------------------------------------------------

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def read_outputs_file(file: Path, display: Path) -> Any:
    where = str(display)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(
            located(where, "file not found", str(display), OUTPUTS_HINT.format(stack="NAME"))
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(
            located(where, "cannot read file", exc.__class__.__name__, "check the path")
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{where}:{exc.lineno}: not valid JSON (got {exc.msg}). "
            f"Hint: {OUTPUTS_HINT.format(stack='NAME')}"
        ) from None


def pulumi_outputs(stack: str, cwd: Path, run: Runner = subprocess.run) -> Any:
    """``pulumi stack output --json --stack NAME`` in the project directory."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise BadInputError(
            located(
                "--stack",
                "cannot read the stack outputs: the pulumi CLI is not on PATH",
                stack,
                OUTPUTS_HINT.format(stack=stack),
            )
        )
    proc = run(
        [pulumi, "stack", "output", "--json", "--stack", stack, "--non-interactive"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split()) or f"exit status {proc.returncode}"
        raise OperationFailedError(
            f"pulumi stack output --json --stack {stack} failed: {detail}. "
            f"Hint: check `pulumi login` and the stack name, or {OUTPUTS_HINT.format(stack=stack)}"
        )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise OperationFailedError(
            f"pulumi stack output --json --stack {stack} printed invalid JSON ({exc.msg})"
        ) from None


@dataclass(frozen=True)
class DeployedAmi:
    partition: str
    region: str
    key: str  # the edition key as in manifests and outputs: ent-fips-arm64
    image_id: str


@dataclass(frozen=True)
class DeployedRelease:
    version: str
    yanked: bool
    amis: tuple[DeployedAmi, ...]
    # (partition, region, key) of AMIs whose id is COMPUTED: outputs written by
    # `mirrors plan --format outputs` before the copy (`mirrors verify` reports them not copied).
    pending: tuple[tuple[str, str, str], ...] = ()


def parse_outputs(outputs: Any, where: str) -> dict[str, DeployedRelease]:
    """The ``releases`` output, checked; every shape problem is a located exit-2 error."""

    def bad(path: str, problem: str, got: object, hint: str) -> BadInputError:
        return BadInputError(located(where, problem, got, hint, path=path))

    if not isinstance(outputs, dict) or "releases" not in outputs:
        raise bad(
            "releases",
            "stack outputs have no 'releases'",
            "a mapping without it" if isinstance(outputs, dict) else outputs,
            "is this an artifact-mirrors stack? It exports releases after `pulumi up`",
        )
    releases = outputs["releases"]
    if not isinstance(releases, dict):
        raise bad("releases", "must be a mapping of version -> release", releases, "see README")
    out: dict[str, DeployedRelease] = {}
    for version, rec in releases.items():
        if not isinstance(rec, dict):
            raise bad(f"releases.{version}", "must be a mapping", rec, "see README")
        amis = rec.get("amis", {})
        if not isinstance(amis, dict):
            raise bad(f"releases.{version}.amis", "must be a mapping", amis, "see README")
        deployed: list[DeployedAmi] = []
        pending: list[tuple[str, str, str]] = []
        for name, image_id in amis.items():
            path = f"releases.{version}.amis.{name}"
            parts = str(name).split("/")
            if len(parts) != 3 or not all(parts):
                raise bad(path, "key is not PARTITION/REGION/EDITION", name, "see README")
            partition, region, key = parts
            if partition_of(region) != partition:
                raise bad(
                    path,
                    f"region {region} is not in partition {partition}",
                    name,
                    "keys read PARTITION/REGION/EDITION, e.g. aws-us-gov/us-gov-west-1/oss-x86_64",
                )
            if image_id == COMPUTED:
                pending.append((partition, region, key))
                continue
            if not isinstance(image_id, str) or not image_id.startswith("ami-"):
                raise bad(path, "not an AMI id", image_id, "run `pulumi up` to finish the copy")
            deployed.append(DeployedAmi(partition, region, key, image_id))
        out[str(version)] = DeployedRelease(
            str(version), rec.get("yanked") is True, tuple(deployed), tuple(pending)
        )
    return out


# ---- expectations --------------------------------------------------------------------------------


def expected_permissions(target: PartitionTarget, yanked: bool) -> LaunchPermissions:
    if yanked:
        return LaunchPermissions()
    lp = target.launch_permissions
    return LaunchPermissions(
        public=lp.public,
        accounts=frozenset(lp.accounts),
        orgs=frozenset(lp.organizations),
        ous=frozenset(lp.organizational_units),
    )


def expected_snapshot_permissions(target: PartitionTarget, yanked: bool) -> LaunchPermissions:
    lp = target.launch_permissions
    if yanked or not lp.snapshot_create_volume:
        return LaunchPermissions()
    return LaunchPermissions(accounts=frozenset(lp.accounts))


def _partial_tags(project: Project, version: str, key: str) -> dict[str, str]:
    """What can be expected without the manifest entry (source id, name are unknown)."""
    assert project.spec.amis is not None
    return {
        project.spec.amis.tags.version: version,
        MIRROR_RELEASE: version,
        MIRROR_EDITION: key,
    }


def expectations(
    project: Project, deployed: Mapping[str, DeployedRelease]
) -> tuple[list[ExpectedAmi], list[Finding]]:
    """What to check per deployed AMI, plus warnings for what cannot be fully checked."""
    ami_spec = project.spec.amis
    if ami_spec is None:
        return [], []
    targets: dict[str, PartitionTarget] = {str(k): v for k, v in ami_spec.partitions.items()}
    expected: list[ExpectedAmi] = []
    notes: list[Finding] = []
    for version, dep in sorted(deployed.items()):
        release: Release | None = project.release(version)
        if release is None and dep.amis:
            notes.append(
                Finding(
                    Severity.WARNING,
                    version,
                    "-",
                    "-",
                    "-",
                    CHECK_MANIFEST,
                    f"manifest for {version}",
                    "missing: only release and edition tags checked",
                )
            )
        yanked = dep.yanked or (release is not None and release.yanked)
        by_key = {a.key: a for a in release.amis} if release is not None else {}
        seen: set[tuple[str, str, str]] = set(dep.pending)
        for partition, region, key in dep.pending:
            notes.append(
                Finding(
                    Severity.ERROR,
                    version,
                    key,
                    region,
                    "-",
                    CHECK_DEPLOYED,
                    f"an AMI id in the outputs ({partition})",
                    NOT_COPIED,
                )
            )
        for d in dep.amis:
            seen.add((d.partition, d.region, d.key))
            target = targets.get(d.partition)
            if target is None:
                notes.append(
                    Finding(
                        Severity.WARNING,
                        version,
                        d.key,
                        d.region,
                        d.image_id,
                        CHECK_SPEC,
                        f"partition {d.partition} in the spec",
                        "not in the spec: not verified",
                    )
                )
                continue
            source = by_key.get(d.key)
            tags = (
                mirror_tags(release, source, ami_spec.tags)
                if release is not None and source is not None
                else _partial_tags(project, version, d.key)
            )
            expected.append(
                ExpectedAmi(
                    release=version,
                    key=d.key,
                    partition=d.partition,
                    region=d.region,
                    image_id=d.image_id,
                    launch_permissions=expected_permissions(target, yanked),
                    tags=tags,
                    snapshot_permissions=expected_snapshot_permissions(target, yanked),
                )
            )
        # Mirrors the spec asks for that the stack does not list: not deployed (yet).
        if release is not None and dep.amis:
            for ami in release.amis:
                for target in ami_spec.partitions.values():
                    for region in target.regions:
                        if (target.partition, region, ami.key) not in seen:
                            notes.append(
                                Finding(
                                    Severity.WARNING,
                                    version,
                                    ami.key,
                                    region,
                                    "-",
                                    CHECK_DEPLOYED,
                                    f"in stack outputs ({target.partition})",
                                    "not deployed: run pulumi preview",
                                )
                            )
    return expected, notes


# ---- rendering -----------------------------------------------------------------------------------


def to_json(
    stack: str,
    findings: Sequence[Finding],
    checked: int,
    images_checked: int = 0,
    provider_objects_checked: int = 0,
    signatures: Sequence[SignatureReport] = (),
) -> str:
    """Stable schema ``artifact-mirrors/verify/v1``; changes are additive.

    ``checked``: AMIs looked at; ``images_checked``: image tags looked at;
    ``provider_objects_checked``: Terraform provider mirror objects looked at. Each finding has a
    ``kind``, ``ami``, ``image`` or ``provider``; for ``image`` findings ``key`` is the spec's
    image name, ``region`` the spec's registry name and ``image_id`` the mirrored
    ``repository:tag``; for ``provider`` findings ``key`` is the spec's provider name, ``region``
    the destination name and ``image_id`` the object's ``s3://bucket/key``.
    """
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    doc = {
        "schema": SCHEMA,
        "stack": stack,
        "checked": checked,
        "images_checked": images_checked,
        "provider_objects_checked": provider_objects_checked,
        "errors": errors,
        "warnings": len(findings) - errors,
        "findings": [
            {
                "severity": f.severity.value,
                "release": f.release,
                "key": f.key,
                "region": f.region,
                "image_id": f.image_id,
                "check": f.check,
                "expected": f.expected,
                "actual": f.actual,
                "kind": f.kind,
            }
            for f in sorted(findings, key=order)
        ],
    }
    if signatures:
        # --deep with verify: policies: every mirror's verdict, valid ones included.
        doc["signatures"] = [asdict(r) for r in signatures]
    return json.dumps(doc, indent=2) + "\n"


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
