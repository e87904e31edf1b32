"""MirrorRepository: a public Docker Hub / quay.io repository whose description is the mirror label.

The RFD requires mirrors to be "clearly labeled as such"; on Docker Hub and quay.io the label is
the repository's description, which only their HTTP APIs can set (see
``artifact_mirrors.registry_meta``). This dynamic resource creates the repository (or adopts one
that exists), keeps the description equal to the label, and notices drift: Python dynamic
providers have no working ``read`` (https://github.com/pulumi/pulumi/issues/16175), so ``diff``
fetches the live description and reports a change when someone edited it by hand.

No credential is ever captured: inputs name the environment variables to read
(``credentials_env``), and the provider reads them inside each method, at call time. The provider
class is at module level in an importable module, so dill pickles it by reference
(``components.dynamic.repository.MirrorRepositoryProvider``) and code changes apply to existing
stacks.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime.rpc import UNKNOWN

from artifact_mirrors.registry_meta import (
    DOCKERHUB_API,
    DOCKERHUB_DESCRIPTION_MAX,
    DOCKERHUB_FULL_DESCRIPTION_MAX,
    QUAY_API,
    DockerHubClient,
    QuayClient,
    RepositoryMetadataClient,
)
from components.dynamic import DynamicResource, props_of

KINDS = ("dockerhub", "quay")
DEFAULT_API = {"dockerhub": DOCKERHUB_API, "quay": QUAY_API}
# The credential names each kind needs in ``credentials_env`` (values: env var names).
CREDENTIAL_KEYS = {"dockerhub": ("username", "token"), "quay": ("token",)}
# A different repository is a different resource; the old one is retained (see delete).
REPLACE_KEYS = ("kind", "api_base", "namespace", "name")
UPDATE_KEYS = ("description", "full_description")


@dataclass(frozen=True)
class MirrorRepositoryArgs:
    """Inputs, exactly as stored in state: credentials are named (env vars), never held."""

    kind: str  # "dockerhub" | "quay"
    namespace: str
    name: str
    description: str  # the mirror label (Docker Hub: at most 100 characters)
    full_description: str = ""  # markdown
    api_base: str = ""  # "" -> the public API of `kind`
    credentials_env: dict[str, str] = field(default_factory=dict)

    def props(self) -> dict[str, Any]:
        props = props_of(self)
        props["api_base"] = self.api_base or DEFAULT_API.get(self.kind, "")
        return props


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    credentials_env = props.get("credentials_env") or {}
    if kind in CREDENTIAL_KEYS and isinstance(credentials_env, dict):
        missing = [k for k in CREDENTIAL_KEYS[kind] if not credentials_env.get(k)]
        if missing:
            failures.append(
                CheckFailure(
                    "credentials_env",
                    "credentials_env must name the environment variables for: "
                    + ", ".join(missing),
                )
            )
    return failures


def _credential(props: dict[str, Any], key: str) -> str:
    """Read one credential from the environment variable the inputs name (at call time)."""
    variable = str((props.get("credentials_env") or {}).get(key, ""))
    value = os.environ.get(variable, "") if variable else ""
    if not value:
        raise RuntimeError(
            f"{props['kind']} credential {key!r}: environment variable "
            f"{variable or '(not named in credentials_env)'} is not set"
        )
    return value


def _client(props: dict[str, Any], *, need_credentials: bool) -> RepositoryMetadataClient:
    kind = props["kind"]
    api_base = props.get("api_base") or DEFAULT_API[kind]
    if kind == "dockerhub":
        if need_credentials:
            return DockerHubClient(
                _credential(props, "username"), _credential(props, "token"), api_base
            )
        # The live check in diff reads a public repository; it works without credentials
        # (e.g. a reviewer's preview), but uses them when they are there.
        env = props.get("credentials_env") or {}
        username = os.environ.get(str(env.get("username", "")))
        token = os.environ.get(str(env.get("token", "")))
        return DockerHubClient(username, token, api_base)
    if kind == "quay":
        if need_credentials:
            return QuayClient(_credential(props, "token"), api_base)
        env = props.get("credentials_env") or {}
        return QuayClient(os.environ.get(str(env.get("token", ""))), api_base)
    raise RuntimeError(f"unknown repository kind {kind!r}")


def _apply(props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Create or adopt the repository and set its description; return (id, outputs)."""
    namespace, name = props["namespace"], props["name"]
    with _client(props, need_credentials=True) as client:
        client.ensure_repository(
            namespace, name, props["description"], props.get("full_description") or ""
        )
        url = client.web_url(namespace, name)
    # Outputs echo the inputs (quay.io joins label and markdown into one text, so the live
    # value is not comparable with the inputs); diff checks the live text against them.
    outputs = {k: v for k, v in props.items() if k != "__provider"}
    outputs["url"] = url
    return f"{props['kind']}/{namespace}/{name}", outputs


class MirrorRepositoryProvider(ResourceProvider):
    """Stateless; every credential comes from the environment inside the method that needs it."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = dict(news)
        if inputs.get("kind") in DEFAULT_API and not inputs.get("api_base"):
            inputs["api_base"] = DEFAULT_API[inputs["kind"]]
        inputs.setdefault("full_description", "")
        inputs.setdefault("credentials_env", {})
        return CheckResult(inputs, _failures(inputs))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in REPLACE_KEYS if olds.get(k) != news.get(k)]
        changed = [k for k in (*UPDATE_KEYS, "credentials_env") if olds.get(k) != news.get(k)]
        if replaces or changed:
            return DiffResult(changes=True, replaces=replaces, delete_before_replace=False)
        if any(news.get(k) == UNKNOWN for k in (*REPLACE_KEYS, *UPDATE_KEYS)):
            return DiffResult(changes=True, replaces=[], delete_before_replace=False)
        # Live check: the description was edited (or the repository deleted) behind our back.
        with _client(news, need_credentials=False) as client:
            live = client.get_repository(news["namespace"], news["name"])
            drifted = live is None or not client.matches(
                live, news["description"], news.get("full_description") or ""
            )
        return DiffResult(changes=drifted, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        id_, outputs = _apply(props)
        return CreateResult(id_, outputs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # The same create-or-adopt: also repairs a repository deleted behind our back.
        _id_unchanged, outputs = _apply(news)
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
