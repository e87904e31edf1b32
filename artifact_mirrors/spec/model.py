"""The validated spec as plain frozen dataclasses: what the rest of the project works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import semver

from artifact_mirrors.regions import Partition

# Docker Hub's registry API host differs from its name in image references
# (https://docs.docker.com/docker-hub/api/latest/): references say docker.io, the API is registry-1.
DEFAULT_HOSTS: dict[str, str] = {
    "dockerhub": "docker.io",
    "quay": "quay.io",
    "ecr-public": "public.ecr.aws",
}


@dataclass(frozen=True)
class CredentialSource:
    source: str  # docker-config | env | stack-config | aws
    username_env: str | None = None
    password_env: str | None = None
    api_token_env: str | None = None
    config_key: str | None = None
    profile: str | None = None

    def names(self) -> dict[str, str]:
        """Where to read the credentials at call time (never the values), as ImageTag stores it."""
        out = {"source": self.source}
        for key in ("username_env", "password_env", "api_token_env", "config_key", "profile"):
            value = getattr(self, key)
            if value:
                out[key] = value
        return out


@dataclass(frozen=True)
class Registry:
    name: str
    kind: str
    host: str
    namespace: str
    region: str | None
    insecure: bool
    tls_verify: bool
    ca_file: str | None
    credentials: CredentialSource

    def repository(self, name: str) -> str:
        """Full repository reference, e.g. ``docker.io/teleport/teleport-distroless``."""
        return f"{self.host}/{self.namespace}/{name}"


@dataclass(frozen=True)
class PolicyKey:
    """A vendor public key of a policy: public data, so it travels in ImageTag's inputs."""

    name: str  # the PEM file's name, as reasons and the plan report it
    pem: str  # the PEM text (-----BEGIN PUBLIC KEY-----)
    fingerprint: str  # sha256:<hex> of the DER SubjectPublicKeyInfo


@dataclass(frozen=True)
class KeylessPolicy:
    """Who may sign keyless: the Fulcio certificate's identity and OIDC issuer, exactly."""

    identity: str  # the certificate's SAN: an email or a URI (e.g. a workflow ref)
    issuer: str  # the OIDC issuer extension, e.g. https://token.actions.githubusercontent.com
    trusted_root_name: str  # the trusted-root file's name
    trusted_root: str  # its JSON text (sigstore's TrustedRoot: Fulcio CAs, Rekor and CT keys)


@dataclass(frozen=True)
class VerifyPolicy:
    """An image's signature policy (``verify:``); ``required``: never publish a digest without a
    valid signature."""

    required: bool
    keys: tuple[PolicyKey, ...] = ()
    keyless: tuple[KeylessPolicy, ...] = ()

    def describe(self) -> str:
        """One line for the plan: ``required: key cosign.pub (sha256:1a2b3c4d5e6f), keyless …``."""
        parts = [f"key {k.name} ({k.fingerprint[:19]})" for k in self.keys]
        parts += [f"keyless {k.identity} from {k.issuer}" for k in self.keyless]
        return ("required: " if self.required else "reported only: ") + ", ".join(parts)

    def props(self) -> dict[str, Any]:
        """The policy as ImageTag stores it in state (public keys and identities, no secrets)."""
        return {
            "required": self.required,
            "keys": [
                {"name": k.name, "pem": k.pem, "fingerprint": k.fingerprint} for k in self.keys
            ],
            "keyless": [
                {
                    "identity": k.identity,
                    "issuer": k.issuer,
                    "trusted_root_name": k.trusted_root_name,
                    "trusted_root": k.trusted_root,
                }
                for k in self.keyless
            ],
        }

    @classmethod
    def from_props(cls, props: Any) -> VerifyPolicy | None:
        if not isinstance(props, dict):
            return None
        return cls(
            bool(props.get("required")),
            tuple(
                PolicyKey(str(k["name"]), str(k["pem"]), str(k["fingerprint"]))
                for k in props.get("keys") or ()
            ),
            tuple(
                KeylessPolicy(
                    str(k["identity"]),
                    str(k["issuer"]),
                    str(k["trusted_root_name"]),
                    str(k["trusted_root"]),
                )
                for k in props.get("keyless") or ()
            ),
        )


@dataclass(frozen=True)
class Image:
    name: str
    source: str  # first-party repository, e.g. public.ecr.aws/gravitational/teleport-distroless
    repository: str  # destination repository name under each registry's namespace
    platforms: tuple[str, ...]
    registries: tuple[str, ...]
    floating_tags: dict[str, tuple[str, ...]]  # channel -> templates like "{major}.{minor}"
    signatures: bool
    description: str | None
    verify: VerifyPolicy | None = None


@dataclass(frozen=True)
class LaunchPermissions:
    public: bool
    accounts: tuple[str, ...]
    organizations: tuple[str, ...]
    organizational_units: tuple[str, ...]
    snapshot_create_volume: bool

    def grants(self) -> list[tuple[str, str]]:
        """(kind, value) pairs; kind names match AmiLaunchPermission's arguments."""
        out: list[tuple[str, str]] = []
        if self.public:
            out.append(("group", "all"))
        out += [("account_id", a) for a in self.accounts]
        out += [("organization_arn", o) for o in self.organizations]
        out += [("organizational_unit_arn", u) for u in self.organizational_units]
        return out


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str


@dataclass(frozen=True)
class Transfer:
    landing_region: str
    source_bucket: Bucket
    destination_bucket: Bucket
    timeout_minutes: int = 360


@dataclass(frozen=True)
class PartitionTarget:
    partition: Partition
    account: str | None
    profile: str | None
    regions: tuple[str, ...]
    launch_permissions: LaunchPermissions
    block_public_access: str  # check | manage
    encrypted: bool
    kms_keys: dict[str, str]
    deprecate_at: datetime | None
    copy_timeout_minutes: int
    transfer: Transfer | None


@dataclass(frozen=True)
class TagNames:
    version: str
    edition: str
    arch: str
    fips: str


@dataclass(frozen=True)
class Edition:
    edition: str
    arch: str
    fips: bool

    @property
    def key(self) -> str:
        return ami_key(self.edition, self.arch, self.fips)


def ami_key(edition: str, arch: str, fips: bool) -> str:
    """``ent``, ``arm64``, fips -> ``ent-fips-arm64`` (the inventory's edition/arch notation)."""
    return f"{edition}{'-fips' if fips else ''}-{arch}"


@dataclass(frozen=True)
class AmiSpec:
    source_account: str
    source_region: str
    tags: TagNames
    editions: tuple[Edition, ...]
    partitions: dict[Partition, PartitionTarget]


@dataclass(frozen=True)
class Labels:
    image_description: Path
    image_full_description: Path
    ami_description: Path


@dataclass(frozen=True)
class Window:
    """Keep the newest ``patches`` releases of each of the newest ``majors`` majors, plus pins."""

    majors: int
    patches: int
    pinned: tuple[str, ...] = ()


@dataclass(frozen=True)
class TerraformDestination:
    """One mirror of a Terraform provider: a bucket (+ prefix) in one protocol's layout."""

    name: str
    kind: str  # registry | network-mirror
    bucket: str
    prefix: str  # "" or "a/b": no leading or trailing slash
    region: str
    profile: str | None
    hostname: str  # network-mirror: the host of the provider address customers keep
    cloudfront_distribution: str | None
    delete_yanked_files: bool

    @property
    def site(self) -> tuple[str, str]:
        """(bucket, prefix): the site this destination is served from; several providers may
        share one (each under its own NAMESPACE/TYPE), and then share its discovery document."""
        return (self.bucket, self.prefix)


@dataclass(frozen=True)
class TerraformProvider:
    name: str
    namespace: str
    type: str
    source: str  # the first-party registry's base URL, https, no trailing slash
    ca_file: str | None
    platforms: tuple[str, ...]  # os/arch
    destinations: tuple[TerraformDestination, ...]


@dataclass(frozen=True)
class Chart:
    """A Helm chart mirrored as an OCI artifact (artifact_mirrors/charts)."""

    name: str  # the spec's key; the release manifest pins it under this name
    chart: str  # the chart's own name (Chart.yaml, the index entry, the OCI repository's last part)
    url: str | None  # an HTTP chart repository (index.yaml at its root), or
    oci: str | None  # an OCI repository holding the chart, e.g. ghcr.io/org/charts/NAME
    ca_file: str | None  # the source's private CA
    repository: str  # destination repository under each registry's namespace
    registries: tuple[str, ...]
    version: str  # the chart version of release {version}: a template, default "{version}"
    keyring: str | None = None  # source.keyring as written (relative to the spec), or
    keyring_data: bytes | None = None  # its keys, binary, read when the spec loads

    def chart_version(self, release: str) -> str:
        return self.version.replace("{version}", release)


@dataclass(frozen=True)
class Spec:
    file: Path
    labels: Labels
    registries: dict[str, Registry]
    images: dict[str, Image]
    amis: AmiSpec | None
    window: Window | None = None
    terraform_providers: dict[str, TerraformProvider] = field(default_factory=dict)
    charts: dict[str, Chart] = field(default_factory=dict)


@dataclass(frozen=True)
class ReleaseImage:
    name: str
    digest: str
    platforms: tuple[str, ...]


@dataclass(frozen=True)
class ReleaseAmi:
    id: str
    name: str
    region: str
    arch: str
    edition: str
    fips: bool

    @property
    def key(self) -> str:
        return ami_key(self.edition, self.arch, self.fips)


@dataclass(frozen=True)
class ProviderPackage:
    """One provider zip of one platform, pinned: what `mirrors release add` verified."""

    platform: str  # os/arch
    filename: str
    url: str
    sha256: str  # hex
    h1: str  # Terraform's h1: hash of the zip's contents (network mirror documents)
    sums_url: str
    sums_sha256: str
    sums_signature_url: str
    sums_signature_sha256: str


@dataclass(frozen=True)
class ReleaseProvider:
    name: str  # the spec's terraform_providers[].name
    version: str
    protocols: tuple[str, ...]
    key_id: str
    ascii_armor: str
    packages: dict[str, ProviderPackage]  # platform -> package


@dataclass(frozen=True)
class ReleaseChart:
    """One chart version, pinned by `mirrors release add`.

    ``digest`` is the OCI manifest digest every mirror gets (built deterministically from the
    ``.tgz``, the ``.prov`` and ``created``; for an OCI source, the source's own digest).
    """

    name: str  # the spec's charts[].name
    version: str
    digest: str
    url: str | None = None  # HTTP source: the .tgz
    sha256: str | None = None  # hex, the index.yaml digest
    prov_url: str | None = None
    prov_sha256: str | None = None
    created: str | None = None  # the index entry's created time

    @property
    def tag(self) -> str:
        # OCI tags cannot hold '+': Helm writes semver build metadata as '_'
        # (helm.sh/helm/v4 pkg/registry/reference.go, newReference).
        return self.version.replace("+", "_")


@dataclass(frozen=True)
class Release:
    file: Path
    version: semver.Version
    channel: str
    yanked: bool
    reason: str | None
    images: dict[str, ReleaseImage]
    amis: tuple[ReleaseAmi, ...]
    pinned: bool = False
    terraform_providers: dict[str, ReleaseProvider] = field(default_factory=dict)
    charts: dict[str, ReleaseChart] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.version)

    @property
    def prerelease(self) -> bool:
        return self.version.prerelease is not None


@dataclass(frozen=True)
class Project:
    """The spec plus every release manifest, sorted by semver (oldest first)."""

    spec: Spec
    releases: tuple[Release, ...] = field(default_factory=tuple)

    def release(self, version: str) -> Release | None:
        return next((r for r in self.releases if r.name == version), None)
