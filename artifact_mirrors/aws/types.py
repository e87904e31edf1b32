"""Plain inputs and outputs of the AWS helpers (no Pulumi, no spec models)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class TagNames:
    """Names of the tags the vendor puts on its release AMIs (Teleport's by default).

    Source: gravitational/teleport assets/aws/single-ami.pkr.hcl (tags BuildTimestamp, BuildType,
    Name, Architecture, TeleportVersion, TeleportEdition, TeleportFipsEnabled).
    """

    version: str = "TeleportVersion"
    edition: str = "TeleportEdition"
    arch: str = "Architecture"
    fips: str = "TeleportFipsEnabled"


@dataclass(frozen=True)
class TagValues:
    """How logical values map to tag values (Teleport: oss/ent, x86_64/arm64, true/false).

    Keys are the logical values used in `EditionKey`; values are what the tag holds.
    """

    editions: Mapping[str, str] = field(default_factory=lambda: {"oss": "oss", "ent": "ent"})
    archs: Mapping[str, str] = field(default_factory=lambda: {"x86_64": "x86_64", "arm64": "arm64"})
    fips_true: str = "true"
    fips_false: str = "false"

    def edition(self, edition: str) -> str:
        try:
            return self.editions[edition]
        except KeyError:
            raise ValueError(
                f"unknown edition {edition!r}: expected one of {', '.join(sorted(self.editions))}"
            ) from None

    def arch(self, arch: str) -> str:
        try:
            return self.archs[arch]
        except KeyError:
            raise ValueError(
                f"unknown architecture {arch!r}: expected one of {', '.join(sorted(self.archs))}"
            ) from None

    def fips(self, fips: bool) -> str:
        return self.fips_true if fips else self.fips_false


@dataclass(frozen=True, order=True)
class EditionKey:
    """One AMI flavour of a release: (edition, arch, fips). `label` is e.g. `ent-fips/arm64`.

    `arch` is an EC2 Architecture value (`x86_64`, `arm64`); TagValues maps it to the tag value.
    """

    edition: str
    arch: str
    fips: bool = False

    @property
    def label(self) -> str:
        return f"{self.edition}{'-fips' if self.fips else ''}/{self.arch}"


@dataclass(frozen=True)
class ResolvedAmi:
    """A first-party release AMI found by its tags."""

    id: str
    name: str
    region: str
    arch: str
    edition: str
    fips: bool
    state: str
    root_device_type: str
    tags: Mapping[str, str]
    owner: str = ""

    @property
    def key(self) -> EditionKey:
        return EditionKey(self.edition, self.arch, self.fips)


@dataclass(frozen=True)
class LaunchPermissions:
    """Who may launch an AMI: public (group `all`), accounts, organizations, OUs."""

    public: bool = False
    accounts: frozenset[str] = frozenset()
    orgs: frozenset[str] = frozenset()
    ous: frozenset[str] = frozenset()

    def describe(self) -> str:
        """Stable, human-readable form used in findings and plans."""
        parts: list[str] = []
        if self.public:
            parts.append("public")
        parts += [f"account {a}" for a in sorted(self.accounts)]
        parts += [f"org {o}" for o in sorted(self.orgs)]
        parts += [f"ou {u}" for u in sorted(self.ous)]
        return ", ".join(parts) if parts else "private"

    def minus(self, other: LaunchPermissions) -> LaunchPermissions:
        """Permissions in self that are not in other."""
        return LaunchPermissions(
            public=self.public and not other.public,
            accounts=self.accounts - other.accounts,
            orgs=self.orgs - other.orgs,
            ous=self.ous - other.ous,
        )

    @property
    def empty(self) -> bool:
        return not (self.public or self.accounts or self.orgs or self.ous)


@dataclass(frozen=True)
class ExpectedAmi:
    """What `mirrors verify` expects of one mirrored AMI."""

    release: str
    key: str
    partition: str
    region: str
    image_id: str
    launch_permissions: LaunchPermissions = LaunchPermissions()
    tags: Mapping[str, str] = field(default_factory=dict)
    # createVolumePermission on the root snapshot (accounts only; ``public`` would be group
    # ``all``); None: not checked.
    snapshot_permissions: LaunchPermissions | None = None


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One failed (error) or doubtful (warning) check of one mirror.

    ``kind`` ``ami``: ``key`` is the edition key, ``region`` the AWS region, ``image_id`` the AMI.
    ``kind`` ``image`` (artifact_mirrors/verify_images.py): ``key`` is the spec's image name,
    ``region`` the spec's registry name, ``image_id`` the mirrored ``repository:tag``.
    """

    severity: Severity
    release: str
    key: str
    region: str
    image_id: str
    check: str
    expected: str
    actual: str
    kind: str = "ami"
