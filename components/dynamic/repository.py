"""MirrorRepository: a public Docker Hub / quay.io repository whose description is the mirror label.

The RFD requires mirrors to be "clearly labeled as such"; on Docker Hub and quay.io the label is
the repository's description, which only their HTTP APIs can set (see
``artifact_mirrors.registry_meta``). This dynamic resource creates the repository (or adopts one
that exists), keeps the description equal to the label, and notices drift: a preview never calls
a provider's ``read`` (only ``pulumi refresh`` and import do), so ``diff`` fetches the live
description and reports a change when someone edited it by hand.

No credential is ever captured: the inputs name where the credentials come from
(``credentials``: the spec's ``CredentialSource.names()``, the same dict ImageTag stores) and the
provider reads them inside each method, at call time, through ``artifact_mirrors.oci.settings``:
environment variables, the Docker credential store (``credHelpers``, ``auths``, ``credsStore``),
``MIRRORS_REGISTRY_AUTH_<HOST>_USERNAME/_PASSWORD``, or a stack-config secret ``USER:PASSWORD``
(from the config the engine passes to ``configure``, which is never pickled). The provider class
is at module level in an importable module, so dill pickles it by reference
(``components.dynamic.repository.MirrorRepositoryProvider``) and code changes apply to existing
stacks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    UpdateResult,
)
from pulumi.runtime.rpc import UNKNOWN

from artifact_mirrors.oci.auth import env_key
from artifact_mirrors.oci.errors import MirrorError
from artifact_mirrors.oci.settings import (
    ConfigLookup,
    CredentialsMissing,
    env_value,
    registry_credentials,
)
from artifact_mirrors.registry_meta import (
    DOCKERHUB_API,
    DOCKERHUB_DESCRIPTION_MAX,
    DOCKERHUB_FULL_DESCRIPTION_MAX,
    QUAY_API,
    AuthenticationError,
    DockerHubClient,
    QuayClient,
    RateLimitedError,
    RegistryMetaError,
    RepositoryMetadataClient,
)
from artifact_mirrors.spec.model import CredentialSource
from components.dynamic import (
    DynamicResource,
    StackConfigProvider,
    inputs_then_live,
    keyed_diff,
    props_of,
)

KINDS = ("dockerhub", "quay")
DEFAULT_API = {"dockerhub": DOCKERHUB_API, "quay": QUAY_API}
# The registry host whose stored credentials the API uses (Docker config, MIRRORS_REGISTRY_AUTH_*).
DEFAULT_HOST = {"dockerhub": "docker.io", "quay": "quay.io"}
HUB_NAME = {"dockerhub": "Docker Hub", "quay": "quay.io"}
# Where the API credentials may come from (the spec's ``credentials.from``); ``aws`` is ECR's.
SOURCES = ("docker-config", "env", "stack-config")
# A different repository is a different resource; the old one is retained (see delete).
REPLACE_KEYS = ("namespace", "name")
# Everything else is an update (create-or-adopt, idempotent), so state never keeps stale inputs.
# ``credentials_env`` is the credential shape of state written before ``credentials``: its
# presence in the old state is a change too, and the update rewrites it.
UPDATE_KEYS = (
    "kind",
    "api_base",
    "host",
    "description",
    "full_description",
    "credentials",
    "credentials_env",
)
# In a preview, the live check gives up after this many tries (a 429's Retry-After is honoured,
# at most 120 s); create and update keep the client's default.
DIFF_ATTEMPTS = 2


@dataclass(frozen=True)
class MirrorRepositoryArgs:
    """Inputs, exactly as stored in state: credentials are named, never held.

    ``credentials`` is the spec's ``CredentialSource.names()``, the same dict ImageTag stores:
    ``source`` (docker-config | env | stack-config) and the names to read at call time
    (``username_env``, ``password_env``, ``api_token_env``, ``config_key``).
    """

    kind: str  # "dockerhub" | "quay"
    namespace: str
    name: str
    description: str  # the mirror label (Docker Hub: at most 100 characters)
    full_description: str = ""  # markdown
    api_base: str = ""  # "" -> the public API of `kind`
    host: str = ""  # the registry host for credential lookup; "" -> docker.io / quay.io
    credentials: dict[str, str] = field(default_factory=lambda: {"source": "docker-config"})

    def props(self) -> dict[str, Any]:
        props = props_of(self)
        props["api_base"] = self.api_base or DEFAULT_API.get(self.kind, "")
        props["host"] = self.host or DEFAULT_HOST.get(self.kind, "")
        props["credentials"] = dict(self.credentials)
        return props


@dataclass(frozen=True)
class RepositoryProps:
    """The props dict as one typed value (turned into this once per provider call)."""

    kind: str
    namespace: str
    name: str
    description: str
    full_description: str
    api_base: str
    host: str
    credentials: CredentialSource

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> RepositoryProps:
        kind = str(props["kind"])
        creds = props.get("credentials") or {}
        return cls(
            kind=kind,
            namespace=str(props["namespace"]),
            name=str(props["name"]),
            description=str(props["description"]),
            full_description=str(props.get("full_description") or ""),
            api_base=str(props.get("api_base") or DEFAULT_API[kind]),
            host=str(props.get("host") or DEFAULT_HOST[kind]),
            credentials=CredentialSource(
                source=str(creds.get("source") or "docker-config"),
                **{k: str(creds[k]) for k in _NAME_KEYS if creds.get(k)},
            ),
        )

    def settings(self) -> dict[str, Any]:
        """The shape ``artifact_mirrors.oci.settings`` reads (its messages name the repository)."""
        return {
            "repository": f"{self.host}/{self.namespace}/{self.name}",
            "registry_kind": self.kind,
            "credentials": self.credentials.names(),
        }


_NAME_KEYS = ("username_env", "password_env", "api_token_env", "config_key")


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _credential_failures(kind: str, creds: Any) -> list[CheckFailure]:
    """Check needs only the *names*: a reviewer's preview has no credentials, and passes."""
    if creds == UNKNOWN:
        return []
    if not isinstance(creds, dict):
        return [CheckFailure("credentials", f"credentials must be a mapping: {creds!r}")]
    source = creds.get("source") or "docker-config"
    hub = HUB_NAME.get(kind, kind)
    if source not in SOURCES:
        return [
            CheckFailure(
                "credentials",
                f"{hub} credentials cannot come from {source!r}: use one of {', '.join(SOURCES)}",
            )
        ]
    need: list[str] = []
    if source == "env":
        if kind == "dockerhub" and not creds.get("username_env"):
            need.append("username_env")
        if not (creds.get("api_token_env") or creds.get("password_env")):
            need.append("password_env (or api_token_env)")
    elif source == "stack-config" and not creds.get("config_key"):
        need.append("config_key")
    if need:
        return [
            CheckFailure(
                "credentials",
                f"{hub} credentials from {source} must name {' and '.join(need)}",
            )
        ]
    return []


def _failures(props: dict[str, Any]) -> list[CheckFailure]:
    failures: list[CheckFailure] = []
    kind = props.get("kind")
    if kind not in KINDS:
        failures.append(CheckFailure("kind", f"kind must be one of {', '.join(KINDS)}: {kind!r}"))
    for key in ("namespace", "name"):
        if not props.get(key):
            failures.append(CheckFailure(key, f"{key} must be a non-empty string"))
    api_base = props.get("api_base")
    if isinstance(api_base, str) and api_base != UNKNOWN:
        parts = urlsplit(api_base)
        # TLS is mandatory except for a loopback test server.
        if parts.scheme != "https" and not (
            parts.scheme == "http" and _is_loopback(parts.hostname)
        ):
            failures.append(
                CheckFailure("api_base", f"api_base must be an https:// URL: {api_base!r}")
            )
    description = props.get("description")
    if not isinstance(description, str) or not description:
        failures.append(CheckFailure("description", "description (the mirror label) is required"))
    elif kind == "dockerhub" and description != UNKNOWN:
        if len(description) > DOCKERHUB_DESCRIPTION_MAX:
            failures.append(
                CheckFailure(
                    "description",
                    f"Docker Hub short description is {len(description)} characters; "
                    f"the limit is {DOCKERHUB_DESCRIPTION_MAX}",
                )
            )
        full = props.get("full_description") or ""
        if isinstance(full, str) and len(full) > DOCKERHUB_FULL_DESCRIPTION_MAX:
            failures.append(
                CheckFailure(
                    "full_description",
                    f"Docker Hub full description is {len(full)} characters; "
                    f"the limit is {DOCKERHUB_FULL_DESCRIPTION_MAX}",
                )
            )
    if kind in KINDS:
        failures += _credential_failures(str(kind), props.get("credentials"))
    return failures


def _api_credentials(
    p: RepositoryProps, config: ConfigLookup | None, *, required: bool
) -> tuple[str | None, str | None]:
    """(username, API token), read now from where ``p.credentials`` says.

    ``api_token_env``, when named, is the API token whatever the source (quay.io's REST API wants
    an OAuth application token, not the robot password the pushes use); otherwise the token is
    the source's password: the env var ``password_env``, the stack-config secret
    ``USER:PASSWORD``, or the Docker credential store / ``MIRRORS_REGISTRY_AUTH_<HOST>_*`` entry
    for ``p.host``, exactly as ImageTag's copies read them.
    """
    c = p.credentials
    token_override = env_value(c.api_token_env)
    if c.source == "env":
        user, token = env_value(c.username_env), token_override or env_value(c.password_env)
        if required:
            if p.kind == "dockerhub" and not user:
                raise CredentialsMissing(_unset(p, "username", c.username_env))
            if not token:
                raise CredentialsMissing(_unset(p, "token", c.api_token_env or c.password_env))
        return user, token
    found = registry_credentials(p.settings(), p.host, config, required=required)
    if found is None:
        if required and not (token_override and p.kind == "quay"):
            raise CredentialsMissing(
                f"{p.kind} credentials for {p.host}: none in the Docker credential store "
                "($DOCKER_CONFIG/config.json, default ~/.docker/config.json) or "
                f"{env_key(p.host)}_USERNAME/_PASSWORD"
            )
        return None, token_override
    return found.username, token_override or found.password


def _unset(p: RepositoryProps, what: str, variable: str | None) -> str:
    return (
        f"{p.kind} credential {what!r}: environment variable "
        f"{variable or '(not named in credentials)'} is not set"
    )


def _client(
    p: RepositoryProps, config: ConfigLookup | None, *, need_credentials: bool
) -> RepositoryMetadataClient:
    if need_credentials:
        user, token = _api_credentials(p, config, required=True)
        options: dict[str, Any] = {}
    else:
        # The live check in diff reads a public repository; it works without credentials
        # (e.g. a reviewer's preview), but uses them when they are there.
        try:
            user, token = _api_credentials(p, config, required=False)
        except MirrorError:  # e.g. a credential helper that is not installed here
            user, token = None, None
        options = {"attempts": DIFF_ATTEMPTS}
    if p.kind == "dockerhub":
        return DockerHubClient(user, token, p.api_base, **options)
    if p.kind == "quay":
        return QuayClient(token, p.api_base, **options)
    raise RuntimeError(f"unknown repository kind {p.kind!r}")


def hub_client(props: Mapping[str, Any], config: ConfigLookup | None) -> RepositoryMetadataClient:
    """A Docker Hub / quay.io API client with the credentials ``props`` name, read now.

    ``props``: ``kind``, ``namespace``, ``name``, ``host``, ``credentials`` (names) and optionally
    ``api_base``. Also what ImageTag's yank deletes tags with, so both read the same sources.
    """
    p = RepositoryProps.of({"description": "", **props})
    return _client(p, config, need_credentials=True)


def _apply(props: dict[str, Any], config: ConfigLookup | None) -> tuple[str, dict[str, Any]]:
    """Create or adopt the repository and set its description; return (id, outputs)."""
    p = RepositoryProps.of(props)
    with _client(p, config, need_credentials=True) as client:
        client.ensure_repository(p.namespace, p.name, p.description, p.full_description)
        url = client.web_url(p.namespace, p.name)
    # Outputs echo the inputs (quay.io joins label and markdown into one text, so the live
    # value is not comparable with the inputs); diff checks the live text against them.
    outputs = {k: v for k, v in props.items() if k != "__provider"}
    outputs["url"] = url
    return f"{p.kind}/{p.namespace}/{p.name}", outputs


def diff_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The inputs-only half of diff: (properties forcing replacement, properties updated)."""
    return keyed_diff(olds, news, REPLACE_KEYS, UPDATE_KEYS)


class MirrorRepositoryProvider(StackConfigProvider):
    """Stateless; every credential is read inside the method that needs it."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = dict(news)
        kind = inputs.get("kind")
        if kind in DEFAULT_API:
            inputs["api_base"] = inputs.get("api_base") or DEFAULT_API[str(kind)]
            inputs["host"] = inputs.get("host") or DEFAULT_HOST[str(kind)]
        inputs.setdefault("full_description", "")
        if not inputs.get("credentials"):
            inputs["credentials"] = {"source": "docker-config"}  # the schema's default
        return CheckResult(inputs, _failures(inputs))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces, changed = diff_inputs(olds, news)
        watched = {k: news.get(k) for k in (*REPLACE_KEYS, *UPDATE_KEYS)}
        return inputs_then_live(replaces, changed, watched, lambda: self._drifted(news))

    def _drifted(self, news: dict[str, Any]) -> bool:
        """Live check: the description was edited (or the repository deleted) behind our back.

        Rate limits (429), the hubs' 5xx and connection errors fall back to the recorded state
        (no drift) rather than failing the preview; ``pulumi up`` meets the real error if it
        persists. Rejected credentials (401/403) are a configuration problem: a clear error.
        """
        p = RepositoryProps.of(news)
        try:
            with _client(p, self._config, need_credentials=False) as client:
                live = client.get_repository(p.namespace, p.name)
                return live is None or not client.matches(live, p.description, p.full_description)
        except RegistryMetaError as exc:
            if isinstance(exc, AuthenticationError) or exc.status in (401, 403):
                raise
            if isinstance(exc, RateLimitedError) or exc.status is None or exc.status >= 500:
                return False
            raise

    def create(self, props: dict[str, Any]) -> CreateResult:
        id_, outputs = _apply(props, self._config)
        return CreateResult(id_, outputs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # The same create-or-adopt: also repairs a repository deleted behind our back.
        _id_unchanged, outputs = _apply(news, self._config)
        return UpdateResult(outputs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Never delete a public repository: people pull from it, and a deleted Docker Hub/quay.io
        # name can be re-registered by someone else (name squatting on a trusted image name).
        # Removing the resource from the program only stops managing the description; the
        # repository and its label stay (DESIGN.md: "Never unpublish by accident").
        return None


_PROVIDER = MirrorRepositoryProvider()


class MirrorRepository(DynamicResource, module="artifact-mirrors", name="MirrorRepository"):
    url: pulumi.Output[str]
    description: pulumi.Output[str]

    def __init__(
        self, name: str, args: MirrorRepositoryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {**args.props(), "url": None}
        super().__init__(_PROVIDER, name, props, opts)
