"""Registry credentials: explicit mapping > environment > Docker credential store.

Lookup order for a registry host (first hit wins):

1. an explicit mapping passed by the caller (``CredentialStore(explicit={host: Credentials})``);
   the Pulumi layer feeds stack-config secrets this way, at call time;
2. the environment:
   ``MIRRORS_REGISTRY_AUTH_<HOST>_USERNAME`` and ``MIRRORS_REGISTRY_AUTH_<HOST>_PASSWORD`` where
   ``<HOST>`` is the registry host upper-cased with every character outside ``[A-Z0-9]`` replaced by
   ``_`` (``quay.io`` -> ``QUAY_IO``, ``127.0.0.1:5001`` -> ``127_0_0_1_5001``, Docker Hub is
   ``DOCKER_IO``), or a single JSON document in ``MIRRORS_REGISTRY_AUTH``:
   ``{"quay.io": {"username": "u", "password": "p"}, "docker.io": {"auth": "<base64 u:p>"}}``;
3. the Docker credential store (``$DOCKER_CONFIG/config.json``, default ``~/.docker/config.json``):
   ``credHelpers[host]`` (runs ``docker-credential-<name> get`` with the server URL on stdin), then
   an inline ``auths[host].auth`` (base64 ``user:password``), then ``credsStore``.

Docker Hub is stored by docker under ``https://index.docker.io/v1/``; that key and ``docker.io``,
``index.docker.io`` all match the API host ``registry-1.docker.io``.

Credentials never appear in ``repr``, logs or exception messages and refuse to be pickled (Pulumi
dynamic providers are pickled; a credential must never land in state).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from artifact_mirrors.oci.errors import CredentialHelperError, MirrorError
from artifact_mirrors.oci.reference import DOCKER_HUB_API

ENV_PREFIX = "MIRRORS_REGISTRY_AUTH"
DOCKER_HUB_SERVER_URL = "https://index.docker.io/v1/"
_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", DOCKER_HUB_API)


class Credentials:
    """A username and a secret (password or token). The secret is never shown."""

    __slots__ = ("_secret", "username")

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self._secret = password

    @property
    def password(self) -> str:
        return self._secret

    def basic_header(self) -> str:
        raw = f"{self.username}:{self._secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return (self.username, self._secret) == (other.username, other._secret)

    def __hash__(self) -> int:
        return hash(self.username)

    def __reduce__(self) -> NoReturn:
        raise TypeError("Credentials are not picklable (they must never reach Pulumi state)")


def env_key(host: str) -> str:
    """``MIRRORS_REGISTRY_AUTH_<HOST>`` prefix for a registry host (see module docstring)."""
    if host in _HUB_KEYS:
        host = "docker.io"
    return f"{ENV_PREFIX}_" + re.sub(r"[^A-Z0-9]", "_", host.upper())


def _normalise_server(key: str) -> str:
    """``https://quay.io/v1/`` -> ``quay.io``; Docker Hub aliases -> registry-1.docker.io."""
    host = re.sub(r"^[a-z]+://", "", key.strip()).split("/", 1)[0]
    return DOCKER_HUB_API if host in _HUB_KEYS or key in _HUB_KEYS else host


def _decode_auth(value: str, where: str) -> Credentials:
    try:
        user, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        sep, user, secret = "", "", ""
    if not sep:
        raise MirrorError(f"{where}: 'auth' is not base64 of USER:PASSWORD")
    return Credentials(user, secret)


class CredentialStore:
    """Resolves credentials for a registry host (see the module docstring for the order)."""

    def __init__(
        self,
        explicit: Mapping[str, Credentials | tuple[str, str]] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        docker_config: Path | None = None,
    ) -> None:
        self._explicit: dict[str, Credentials] = {}
        for key, value in (explicit or {}).items():
            creds = value if isinstance(value, Credentials) else Credentials(*value)
            self._explicit[_normalise_server(key)] = creds
        self._environ = environ if environ is not None else os.environ
        self._docker_config = docker_config

    def __repr__(self) -> str:
        return f"CredentialStore(hosts={sorted(self._explicit)!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("CredentialStore is not picklable")

    def lookup(self, host: str) -> Credentials | None:
        host = _normalise_server(host)
        if host in self._explicit:
            return self._explicit[host]
        return self._from_env(host) or self._from_docker(host)

    # -- environment -------------------------------------------------------------------------
    def _from_env(self, host: str) -> Credentials | None:
        prefix = env_key(host)
        user = self._environ.get(f"{prefix}_USERNAME")
        password = self._environ.get(f"{prefix}_PASSWORD")
        if user is not None and password is not None:
            return Credentials(user, password)
        blob = self._environ.get(ENV_PREFIX)
        if not blob:
            return None
        try:
            doc = json.loads(blob)
        except json.JSONDecodeError:
            raise MirrorError(f"${ENV_PREFIX} is not valid JSON") from None
        if not isinstance(doc, dict):
            raise MirrorError(f"${ENV_PREFIX} must be a JSON object keyed by registry host")
        for key, entry in doc.items():
            if _normalise_server(str(key)) != host or not isinstance(entry, dict):
                continue
            if "auth" in entry:
                return _decode_auth(str(entry["auth"]), f"${ENV_PREFIX}[{key}]")
            if "username" in entry and "password" in entry:
                return Credentials(str(entry["username"]), str(entry["password"]))
        return None

    # -- docker config -------------------------------------------------------------------------
    def _config_path(self) -> Path:
        if self._docker_config is not None:
            return self._docker_config
        base = self._environ.get("DOCKER_CONFIG")
        return (Path(base) if base else Path.home() / ".docker") / "config.json"

    def _from_docker(self, host: str) -> Credentials | None:
        path = self._config_path()
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as exc:
            raise MirrorError(f"cannot read docker config {path}: {type(exc).__name__}") from None
        helpers = doc.get("credHelpers") or {}
        for key, helper in helpers.items():
            if _normalise_server(key) == host:
                return _run_helper(str(helper), self._server_url(host, key))
        for key, entry in (doc.get("auths") or {}).items():
            if _normalise_server(key) == host and isinstance(entry, dict) and entry.get("auth"):
                return _decode_auth(str(entry["auth"]), f"{path} auths[{key}]")
        store = doc.get("credsStore")
        if store:
            return _run_helper(str(store), self._server_url(host, None))
        return None

    @staticmethod
    def _server_url(host: str, key: str | None) -> str:
        if host == DOCKER_HUB_API:
            return DOCKER_HUB_SERVER_URL
        return key if key is not None else host


def _run_helper(name: str, server_url: str) -> Credentials | None:
    """``docker-credential-<name> get`` (protocol: github.com/docker/docker-credential-helpers)."""
    exe = shutil.which(f"docker-credential-{name}")
    if exe is None:
        raise CredentialHelperError(
            f"credential helper docker-credential-{name} (docker config) is not on PATH"
        )
    try:
        proc = subprocess.run(
            [exe, "get"],
            input=server_url.encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CredentialHelperError(f"docker-credential-{name} get timed out") from None
    if proc.returncode != 0:
        # "credentials not found in native keychain" is the helpers' way of saying "none".
        # Its output is not echoed: a misbehaving helper could print a secret.
        return None
    try:
        doc = json.loads(proc.stdout)
        user, secret = str(doc["Username"]), str(doc["Secret"])
    except (json.JSONDecodeError, KeyError, TypeError):
        raise CredentialHelperError(
            f"docker-credential-{name} get returned an unexpected document"
        ) from None
    return Credentials(user, secret)
