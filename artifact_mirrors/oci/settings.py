"""How to reach one destination registry: credentials, plain HTTP, CA file, from names only.

Shared by the ``ImageTag`` dynamic provider (components/dynamic/image_tag.py), which copies, and
``mirrors verify``, which reads. The settings are the resource inputs as stored in Pulumi state
(``props``): they *name* where credentials come from (environment variables, a stack-config key,
an AWS profile), never hold them, and :func:`registries_for` reads the values at call time.

No Pulumi imports: the stack config is anything with ``get(key) -> value | None`` (the dynamic
provider passes ``pulumi.dynamic.Config``; the CLI has no decrypted config and passes None).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from artifact_mirrors import naming
from artifact_mirrors.oci.auth import Credentials, CredentialStore
from artifact_mirrors.oci.client import Registries
from artifact_mirrors.oci.env import insecure_registries
from artifact_mirrors.oci.errors import MirrorError
from artifact_mirrors.oci.reference import parse_reference


class ConfigLookup(Protocol):
    """The part of ``pulumi.dynamic.Config`` used here."""

    def get(self, key: str) -> Any: ...


class CredentialsMissing(MirrorError):
    """The spec names credentials (env vars, a stack-config key) that are not available."""


def env_value(name: str | None) -> str | None:
    """The value of the environment variable named ``name`` (None when unnamed or unset)."""
    return os.environ.get(name) if name else None


def aws_password(kind: str, profile: str | None, region: str | None) -> str:
    """A registry password from ECR / ECR Public's GetAuthorizationToken (valid 12 hours)."""
    import boto3

    from artifact_mirrors.aws.session import endpoint_url

    session = boto3.Session(profile_name=profile or None)
    endpoint = endpoint_url()  # tests and the local stack point AWS at a moto_server
    if kind == "ecr-public":
        # ECR Public's API is only in us-east-1.
        client = session.client("ecr-public", region_name="us-east-1", endpoint_url=endpoint)
        token = client.get_authorization_token()["authorizationData"]["authorizationToken"]
    else:
        ecr = session.client("ecr", region_name=region, endpoint_url=endpoint)
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode().split(":", 1)[1]


def _from_stack_config(props: Mapping[str, Any], config: ConfigLookup | None) -> tuple[str, str]:
    """A stack-config secret holding ``username:password`` (``pulumi config set --secret``)."""
    key = str((props.get("credentials") or {}).get("config_key") or "")
    full = key if ":" in key else f"{naming.PROJECT}:{key}"
    value = config.get(full) if config is not None else None
    if not isinstance(value, str) or ":" not in value:
        raise CredentialsMissing(
            f"credentials for {props['repository']}: stack config {full} is not set to "
            "'username:password' (pulumi config set --secret " + full + " USER:PASSWORD)"
        )
    user, password = value.split(":", 1)
    return user, password


def explicit_credentials(
    props: Mapping[str, Any],
    host: str,
    config: ConfigLookup | None = None,
    *,
    required: bool = True,
) -> dict[str, tuple[str, str]]:
    """Credentials the settings name for ``host``, read now.

    ``required=False`` (read-only callers such as ``mirrors verify``): named credentials that are
    not available fall back to the Docker credential store / ``MIRRORS_REGISTRY_AUTH_*`` and then
    anonymous access, which is what users of a public mirror get anyway.
    """
    creds = props.get("credentials") or {}
    source = creds.get("source", "docker-config")
    try:
        if source == "stack-config":
            return {host: _from_stack_config(props, config)}
        if source == "env":
            user, password = (
                env_value(creds.get("username_env")),
                env_value(creds.get("password_env")),
            )
            if not user or not password:
                missing = [
                    n
                    for n, v in (
                        (creds.get("username_env"), user),
                        (creds.get("password_env"), password),
                    )
                    if not v
                ]
                raise CredentialsMissing(
                    f"credentials for {props['repository']}: environment variable(s) "
                    f"{', '.join(str(m) for m in missing)} not set"
                )
            return {host: (user, password)}
    except CredentialsMissing:
        if required:
            raise
        return {}
    if source == "aws":
        region = host.split(".")[3] if props.get("registry_kind") == "ecr" else None
        return {host: ("AWS", aws_password(props["registry_kind"], creds.get("profile"), region))}
    # docker-config: the Docker credential store / MIRRORS_REGISTRY_AUTH_* environment.
    return {}


def registry_credentials(
    props: Mapping[str, Any],
    host: str,
    config: ConfigLookup | None = None,
    *,
    required: bool = True,
) -> Credentials | None:
    """The one set of credentials for ``host``, read now, through the same lookup as a copy.

    What the settings name (:func:`explicit_credentials`: stack-config secret, environment
    variables, an ECR token) first, then ``MIRRORS_REGISTRY_AUTH_<HOST>_USERNAME/_PASSWORD`` and
    the Docker credential store (``$DOCKER_CONFIG/config.json``: ``credHelpers``, ``auths``,
    ``credsStore``). None when nothing is found; missing *named* credentials raise
    :class:`CredentialsMissing` unless ``required`` is False. Used by the Docker Hub / quay.io
    metadata APIs (``components.dynamic.repository``), which need the credentials themselves
    rather than a :class:`Registries`.
    """
    explicit = explicit_credentials(props, host, config, required=required)
    return CredentialStore(explicit).lookup(host)


def registries_for(
    props: Mapping[str, Any],
    config: ConfigLookup | None = None,
    *,
    required: bool = True,
) -> Registries:
    """A :class:`Registries` for the destination ``props['repository']`` (caller closes it).

    ``props`` keys used: ``repository``, ``registry_kind``, ``insecure``, ``ca_file``,
    ``credentials`` (the names: ``CredentialSource.names()`` in the spec model).
    """
    host = parse_reference(props["repository"]).registry
    ca = {host: Path(props["ca_file"])} if props.get("ca_file") else None
    # Plain-HTTP *source* registries come from the environment (tests, local demo); the
    # destination's from the spec. Neither is ever on by default.
    insecure = insecure_registries()
    if props.get("insecure"):
        insecure.append(host)
    return Registries(
        credentials=CredentialStore(explicit_credentials(props, host, config, required=required)),
        insecure=insecure,
        ca_files=ca,
    )
