"""pydantic v2 models of the two YAML files, used only at the boundary (see `load`).

Every model forbids unknown keys and runs in strict mode, so `true` is not a string and `"1"` is not
an integer: a typo fails review instead of silently meaning something else.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
AMI_RE = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")
ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
ORG_ARN_RE = re.compile(
    r"^arn:aws(-us-gov)?:organizations::[0-9]{12}:organization/o-[a-z0-9]{10,32}$"
)
OU_ARN_RE = re.compile(
    r"^arn:aws(-us-gov)?:organizations::[0-9]{12}:ou/o-[a-z0-9]{10,32}/ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$"
)
NAME_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")
REPO_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
HOST_RE = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
SHA256_HEX_RE = re.compile(r"^[0-9a-f]{64}$")
KEY_ID_RE = re.compile(r"^[0-9A-F]{16}$")
H1_RE = re.compile(r"^h1:[A-Za-z0-9+/]{43}=$")


def _matching(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(what)
        return value

    return AfterValidator(check)


Digest = Annotated[str, _matching(DIGEST_RE, "not a sha256 digest")]
AmiId = Annotated[str, _matching(AMI_RE, "not an AMI id")]
AccountId = Annotated[str, _matching(ACCOUNT_RE, "not a 12-digit AWS account id")]
OrgArn = Annotated[str, _matching(ORG_ARN_RE, "not an AWS Organizations organization ARN")]
OuArn = Annotated[str, _matching(OU_ARN_RE, "not an AWS Organizations OU ARN")]
Name = Annotated[str, _matching(NAME_RE, "not a valid name")]
RepoPath = Annotated[str, _matching(REPO_RE, "not a valid repository path")]
Host = Annotated[str, _matching(HOST_RE, "not a host name (with optional :port)")]
Sha256Hex = Annotated[str, _matching(SHA256_HEX_RE, "not a sha256 in hex")]

RegistryKind = Literal["dockerhub", "quay", "ecr-public", "ecr", "oci"]
PartitionName = Literal["aws", "aws-us-gov"]
Arch = Literal["x86_64", "arm64"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


# ---- destinations.yaml ---------------------------------------------------------------------------


class Credentials(Strict):
    """Where a registry's credentials come from. Only *names* live here, never secret values."""

    source: Literal["docker-config", "env", "stack-config", "aws"] = Field(
        "docker-config", alias="from"
    )
    username_env: str | None = None
    password_env: str | None = None
    api_token_env: str | None = None  # quay.io: an OAuth token for its REST API
    config_key: str | None = None
    profile: str | None = None


class Tls(Strict):
    verify: bool = True
    ca_file: str | None = None


class RegistryIn(Strict):
    name: Name
    kind: RegistryKind
    host: Host | None = None
    namespace: RepoPath
    region: str | None = None
    insecure: bool = False
    tls: Tls = Tls()
    credentials: Credentials = Credentials.model_validate({})


class KeylessIn(Strict):
    """Who may sign keyless; checked (all three are needed) in load.py with hints."""

    identity: str | None = None  # the certificate's SAN, exactly
    issuer: str | None = None  # the OIDC issuer, exactly
    trusted_root: str | None = None  # sigstore trusted_root.json, relative to the spec


class VerifyIn(Strict):
    """The image's signature policy: vendor public keys (PEM files relative to the spec) and/or
    keyless identities. ``required``: a digest without a valid signature is never published."""

    required: bool = False
    keys: list[str] = []
    keyless: list[KeylessIn] = []


class ImageDefaults(Strict):
    registries: list[Name] | None = None
    floating_tags: dict[Name, list[str]] | None = None
    signatures: bool | None = None
    verify: VerifyIn | None = None


class ImageIn(Strict):
    name: Name
    source: str
    repository: RepoPath | None = None
    platforms: list[str] = []
    registries: list[Name]
    floating_tags: dict[Name, list[str]] = {}
    signatures: bool = True
    description: str | None = None
    verify: VerifyIn | None = None


class LaunchPermissions(Strict):
    public: bool = False
    accounts: list[AccountId] = []
    organizations: list[OrgArn] = []
    organizational_units: list[OuArn] = []
    snapshot_create_volume: bool = False


class Bucket(Strict):
    name: str
    region: str


class Transfer(Strict):
    """Commercial -> GovCloud transfer through S3 (CopyImage cannot cross partitions)."""

    landing_region: str
    source_bucket: Bucket
    destination_bucket: Bucket
    # The transfer's own deadline (store -> S3 -> restore): the engine's custom_timeouts never
    # reach a dynamic provider's Create. A transfer past it stops; `pulumi up` again resumes.
    timeout_minutes: int = Field(360, ge=10, le=48 * 60)


class PartitionIn(Strict):
    account: AccountId | None = None
    profile: str | None = None
    regions: list[str] | None = None
    launch_permissions: LaunchPermissions = LaunchPermissions()
    block_public_access: Literal["check", "manage"] = "check"
    encrypted: bool = False
    kms_keys: dict[str, str] = {}
    deprecate_at: date | datetime | None = None
    copy_timeout_minutes: int = Field(90, ge=1, le=24 * 60)
    transfer: Transfer | None = None


class TagNames(Strict):
    version: str = "TeleportVersion"
    edition: str = "TeleportEdition"
    arch: str = "Architecture"
    fips: str = "TeleportFipsEnabled"


class AmiSource(Strict):
    account: AccountId
    region: str


class Edition(Strict):
    edition: Name
    arch: Arch
    fips: bool = False


class AmisIn(Strict):
    source: AmiSource
    tags: TagNames = TagNames()
    editions: list[Edition]
    partitions: dict[PartitionName, PartitionIn]


class Labels(Strict):
    """Jinja2 templates (paths relative to the spec file) for the text that labels a mirror."""

    image_description: str
    image_full_description: str
    ami_description: str


class ChartDefaults(Strict):
    registries: list[Name] | None = None
    repository: str | None = None  # a template: "{name}" (default) or e.g. "charts/{name}"
    keyring: str | None = None  # the HTTP charts' source.keyring when they leave it out


class Defaults(Strict):
    image: ImageDefaults = ImageDefaults()
    chart: ChartDefaults = ChartDefaults()


class WindowIn(Strict):
    """The supported-release window (artifact_mirrors/window.py): releases kept."""

    majors: int = Field(ge=1, le=100)
    patches: int  # checked in artifact_mirrors/window.py: 0 drops every major's newest release
    pinned: list[str] = []


class TerraformDestinationIn(Strict):
    """Where a Terraform provider is mirrored: one bucket (+ prefix) in one layout."""

    name: Name
    kind: Literal["registry", "network-mirror"]
    bucket: str
    prefix: str = ""
    region: str
    profile: str | None = None
    hostname: Host | None = None  # network-mirror: the provider address's host (default: source)
    cloudfront_distribution: str | None = None
    yank: Literal["keep-files", "delete-files"] = "keep-files"


class TerraformProviderIn(Strict):
    name: Name
    namespace: Name
    type: Name
    source: str  # the first-party registry's base URL (Provider Registry Protocol)
    tls: Tls = Tls()
    platforms: list[str]
    destinations: list[TerraformDestinationIn]


class ChartSourceIn(Strict):
    """Either an HTTP chart repository (``url`` + ``chart``) or an OCI repository (``oci``)."""

    url: str | None = None
    chart: Name | None = None  # the chart's name in index.yaml (default: the spec's name)
    oci: str | None = None
    tls: Tls = Tls()
    # OpenPGP keyring (relative to the spec) that signs the .prov files: with it `mirrors
    # release add` verifies every .prov and refuses a version without one.
    keyring: str | None = None


class ChartIn(Strict):
    name: Name
    source: ChartSourceIn
    repository: str | None = None  # default: defaults.chart.repository, else the chart's name
    registries: list[Name]
    version: str = "{version}"  # the chart version for release {version}


class DestinationsIn(Strict):
    version: Literal[1]
    labels: Labels
    defaults: Defaults = Defaults()
    registries: list[RegistryIn] = []
    images: list[ImageIn] = []
    amis: AmisIn | None = None
    window: WindowIn | None = None
    terraform_providers: list[TerraformProviderIn] = []
    charts: list[ChartIn] = []


# ---- releases/<version>.yaml ---------------------------------------------------------------------


class ReleaseImageIn(Strict):
    digest: Digest
    platforms: list[str] = []


class ReleaseAmiIn(Strict):
    id: AmiId
    name: str
    region: str
    arch: Arch
    edition: Name
    fips: bool = False


class SigningKeyIn(Strict):
    id: Annotated[str, _matching(KEY_ID_RE, "not a 16-digit hex GPG key id")]
    ascii_armor: str


class ProviderPackageIn(Strict):
    filename: str
    url: str
    sha256: Sha256Hex
    h1: Annotated[str, _matching(H1_RE, "not an h1: hash")]
    sums_url: str
    sums_sha256: Sha256Hex
    sums_signature_url: str
    sums_signature_sha256: Sha256Hex


class ReleaseProviderIn(Strict):
    version: str
    protocols: list[str] = []
    signing_key: SigningKeyIn
    platforms: dict[str, ProviderPackageIn]


class ReleaseChartIn(Strict):
    version: str
    digest: Digest  # the OCI manifest every mirror gets
    url: str | None = None
    sha256: Sha256Hex | None = None
    prov_url: str | None = None
    prov_sha256: Sha256Hex | None = None
    created: str | None = None


class ReleaseIn(Strict):
    version: str
    channel: Name = "stable"
    yanked: bool = False
    reason: str | None = None
    pinned: bool = False  # kept in the program whatever the window says
    images: dict[str, ReleaseImageIn] = {}
    amis: list[ReleaseAmiIn] = []
    terraform_providers: dict[str, ReleaseProviderIn] = {}
    charts: dict[str, ReleaseChartIn] = {}
