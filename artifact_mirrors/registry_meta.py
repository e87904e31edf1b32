"""Repository metadata on Docker Hub and quay.io: create public repositories, set the mirror label.

The registries' OCI endpoints move bytes; the repository *page* (its description, which carries the
"this is a mirror" label the RFD requires) lives behind each hub's own HTTP API:

* Docker Hub — https://docs.docker.com/reference/api/hub/latest/
  - ``POST /v2/auth/token`` ``{"identifier", "secret"}`` -> ``{"access_token"}``
    (``/v2/users/login`` is deprecated):
    https://docs.docker.com/reference/api/hub/latest/operations/AuthCreateAccessToken/
  - ``GET /v2/namespaces/{ns}/repositories/{repo}``:
    https://docs.docker.com/reference/api/hub/latest/operations/GetRepository/
  - ``POST /v2/namespaces/{ns}/repositories`` (``POST /v2/repositories/`` deprecated 2025-09-19):
    https://docs.docker.com/reference/api/hub/latest/operations/CreateRepository/ — ``description``
    has ``maxLength: 100`` and ``full_description`` ``maxLength: 25000``
    (https://docs.docker.com/reference/api/hub/latest/schemas/repo_creation_request/).
  - ``PATCH /v2/repositories/{ns}/{repo}/`` with ``description``/``full_description``: not in the
    OpenAPI document, but the endpoint the Hub UI and peter-evans/dockerhub-description use
    (https://github.com/peter-evans/dockerhub-description/blob/main/src/dockerhub-helper.ts,
    https://github.com/docker/hub-tool/issues/172).
  - ``DELETE /v2/repositories/{ns}/{repo}/tags/{tag}/`` (the legacy tag endpoint; the namespaced
    tag API has no DELETE).
* quay.io — https://docs.redhat.com/en/documentation/red_hat_quay/3/html/red_hat_quay_api_reference/
  ``Authorization: Bearer <OAuth application token>``; ``GET/PUT /api/v1/repository/{ns}/{repo}``,
  ``POST /api/v1/repository`` (``repository, namespace, visibility, description, repo_kind``),
  ``DELETE /api/v1/repository/{ns}/{repo}/tag/{tag}`` (deleteFullTag). Quay has a single
  markdown ``description``, so the short label and the long text are joined (:func:`quay_text`).

Credentials are held only by a live client (never pickled, never in ``repr`` or error messages):
the Pulumi provider builds a client per call from environment variables it reads at call time.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, Self

import httpx
import tenacity

__all__ = [
    "DOCKERHUB_API",
    "DOCKERHUB_DESCRIPTION_MAX",
    "DOCKERHUB_FULL_DESCRIPTION_MAX",
    "QUAY_API",
    "AuthenticationError",
    "DescriptionError",
    "DockerHubClient",
    "EnsureResult",
    "QuayClient",
    "RateLimitedError",
    "RegistryMetaError",
    "Repository",
    "RepositoryMetadataClient",
    "quay_text",
    "validate_dockerhub_description",
    "wait_retry_after",
]

DOCKERHUB_API = "https://hub.docker.com"
QUAY_API = "https://quay.io"
DOCKERHUB_DESCRIPTION_MAX = 100
DOCKERHUB_FULL_DESCRIPTION_MAX = 25_000

# 429: rate limited (Docker Hub sends Retry-After / X-RateLimit-Reset); 502/503/504: the hubs'
# load balancers shed load this way and the same request succeeds moments later.
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_MAX_WAIT = 120.0


# ---------------------------------------------------------------------------------------------
# Errors and values
# ---------------------------------------------------------------------------------------------


class RegistryMetaError(Exception):
    """A hub API call failed. The message has the HTTP status and the API's own error text."""

    def __init__(self, registry: str, action: str, status: int | None, detail: str) -> None:
        self.registry = registry
        self.action = action
        self.status = status
        self.detail = detail
        where = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{registry}: {action} failed: {where}: {detail}")


class AuthenticationError(RegistryMetaError):
    """Credentials were rejected (401/403) or are missing."""


class RateLimitedError(RegistryMetaError):
    """Still rate limited (or the hub still unavailable) after every retry."""


class DescriptionError(ValueError):
    """A description the hub would reject; raised before any request is sent."""


@dataclass(frozen=True)
class Repository:
    namespace: str
    name: str
    description: str
    full_description: str
    is_public: bool


@dataclass(frozen=True)
class EnsureResult:
    repository: Repository
    created: bool
    """The repository did not exist and was created (otherwise it was adopted)."""
    updated: bool
    """The description was changed on an existing repository."""


def validate_dockerhub_description(description: str, full_description: str) -> None:
    """Docker Hub rejects a short description over 100 characters; say so before calling it."""
    if len(description) > DOCKERHUB_DESCRIPTION_MAX:
        raise DescriptionError(
            f"Docker Hub short description is {len(description)} characters; "
            f"the limit is {DOCKERHUB_DESCRIPTION_MAX}: {description!r}"
        )
    if len(full_description) > DOCKERHUB_FULL_DESCRIPTION_MAX:
        raise DescriptionError(
            f"Docker Hub full description is {len(full_description)} characters; "
            f"the limit is {DOCKERHUB_FULL_DESCRIPTION_MAX}"
        )


def quay_text(description: str, full_description: str) -> str:
    """quay.io has one markdown description: the label first, then the long text."""
    parts = [p.strip() for p in (description, full_description) if p.strip()]
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Retries
# ---------------------------------------------------------------------------------------------


class _RetryableResponse(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _retry_after_seconds(response: httpx.Response, now: float) -> float | None:
    value = response.headers.get("retry-after")
    if value:
        if value.strip().isdigit():
            return float(value.strip())
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            pass
    # Docker Hub's rate-limit headers: X-RateLimit-Reset is a Unix time.
    # https://docs.docker.com/reference/api/hub/latest/#tag/rate-limiting
    reset = response.headers.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - now)
    return None


def wait_retry_after(
    fallback: tenacity.wait.wait_base | None = None,
    clock: Callable[[], float] = time.time,
) -> Callable[[tenacity.RetryCallState], float]:
    """A tenacity wait honouring ``Retry-After``/``X-RateLimit-Reset``; exponential otherwise."""
    backup = fallback or tenacity.wait_exponential(multiplier=1, min=1, max=30)

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, _RetryableResponse):
            hinted = _retry_after_seconds(error.response, clock())
            if hinted is not None:
                return min(hinted, _MAX_WAIT)
        return float(backup(state))

    return wait


# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------


def _api_detail(response: httpx.Response) -> str:
    """The hub's own error text (Docker Hub: message/detail; quay: error_message/detail)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "detail", "error_message", "error_description", "error", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    text = response.text.strip()
    return text[:300] if text else response.reason_phrase


class _Client:
    registry: ClassVar[str]

    def __init__(
        self,
        api_base: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        attempts: int = 5,
        wait: Callable[[tenacity.RetryCallState], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        # TLS verification stays on (httpx default); a test passes an http:// 127.0.0.1 base.
        self._http = httpx.Client(
            base_url=self.api_base,
            transport=transport,
            timeout=timeout,
            headers={"Accept": "application/json"},
        )
        self._attempts = attempts
        self._wait = wait or wait_retry_after()
        self._sleep = sleep

    # Credentials live in subclasses; refuse to be pickled or shown.
    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} holds credentials and cannot be pickled")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_base={self.api_base!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _secrets(self) -> Iterable[str]:
        return ()

    def _scrub(self, text: str) -> str:
        for value in self._secrets():
            if value:
                text = text.replace(value, "***")
        return text

    def _auth(self) -> dict[str, str]:
        raise NotImplementedError  # each API authenticates its own way

    def _delete(self, action: str, path: str, *, ok: tuple[int, ...]) -> bool:
        """DELETE ``path``: True when deleted, False when it was already gone (404)."""
        response = self._send(action, "DELETE", path, headers=self._auth())
        if response.status_code == 404:
            return False
        if response.status_code not in ok:
            self._fail(action, response)
        return True

    def _fail(
        self, action: str, response: httpx.Response, error: type[RegistryMetaError] | None = None
    ) -> NoReturn:
        status = response.status_code
        kind = error or (AuthenticationError if status in (401, 403) else RegistryMetaError)
        raise kind(self.registry, action, status, self._scrub(_api_detail(response)))

    def _send(
        self,
        action: str,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._attempts),
            wait=self._wait,
            sleep=self._sleep,
            retry=tenacity.retry_if_exception_type((_RetryableResponse, httpx.TransportError)),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._http.request(method, path, json=json, headers=headers)
                    if response.status_code in _RETRY_STATUSES:
                        raise _RetryableResponse(response)
                    return response
        except _RetryableResponse as exhausted:
            detail = f"{_api_detail(exhausted.response)} (gave up after {self._attempts} attempts)"
            raise RateLimitedError(
                self.registry, action, exhausted.response.status_code, self._scrub(detail)
            ) from None
        except httpx.TransportError as error:
            raise RegistryMetaError(
                self.registry, action, None, self._scrub(f"{type(error).__name__}: {error}")
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    # The common surface (see RepositoryMetadataClient).
    def get_repository(self, namespace: str, name: str) -> Repository | None:
        raise NotImplementedError

    def create_repository(
        self, namespace: str, name: str, description: str, full_description: str
    ) -> Repository:
        raise NotImplementedError

    def update_description(
        self, namespace: str, name: str, description: str, full_description: str
    ) -> Repository:
        raise NotImplementedError

    def matches(self, repository: Repository, description: str, full_description: str) -> bool:
        """Whether the live repository already shows the wanted description."""
        raise NotImplementedError

    def web_url(self, namespace: str, name: str) -> str:
        raise NotImplementedError

    def ensure_repository(
        self, namespace: str, name: str, description: str, full_description: str
    ) -> EnsureResult:
        """Create the public repository, or adopt an existing one, and set its description."""
        existing = self.get_repository(namespace, name)
        if existing is None:
            try:
                created = self.create_repository(namespace, name, description, full_description)
            except RegistryMetaError as error:
                # Lost a race with another writer (or the GET was not authorised to see it):
                # adopt what is there now; otherwise the create error is the real problem.
                if error.status not in (400, 409):
                    raise
                existing = self.get_repository(namespace, name)
                if existing is None:
                    raise
            else:
                return EnsureResult(created, created=True, updated=False)
        if self.matches(existing, description, full_description):
            return EnsureResult(existing, created=False, updated=False)
        updated = self.update_description(namespace, name, description, full_description)
        return EnsureResult(updated, created=False, updated=True)


class DockerHubClient(_Client):
    """Docker Hub repository metadata. ``token`` is a personal/organisation access token."""

    registry = "Docker Hub"

    def __init__(
        self,
        username: str | None,
        token: str | None,
        api_base: str = DOCKERHUB_API,
        **options: Any,
    ) -> None:
        super().__init__(api_base, **options)
        self._username = username
        self._token = token
        self._jwt: str | None = None

    def _secrets(self) -> Iterable[str]:
        return tuple(s for s in (self._token, self._jwt) if s)

    def login(self) -> None:
        """Exchange username + access token for a short-lived JWT (cached on this client)."""
        if self._jwt is not None:
            return
        if not self._username or not self._token:
            raise AuthenticationError(self.registry, "login", None, "no username/token configured")
        response = self._send(
            "login",
            "POST",
            "/v2/auth/token",
            json={"identifier": self._username, "secret": self._token},
        )
        if response.status_code != 200:
            self._fail("login", response, AuthenticationError)
        token = response.json().get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthenticationError(self.registry, "login", 200, "response has no access_token")
        self._jwt = token

    def _auth(self) -> dict[str, str]:
        self.login()
        return {"Authorization": f"Bearer {self._jwt}"}

    @staticmethod
    def _repository(namespace: str, name: str, body: Mapping[str, Any]) -> Repository:
        return Repository(
            namespace=str(body.get("namespace") or namespace),
            name=str(body.get("name") or name),
            description=str(body.get("description") or ""),
            full_description=str(body.get("full_description") or ""),
            is_public=not bool(body.get("is_private", False)),
        )

    def get_repository(self, namespace: str, name: str) -> Repository | None:
        action = f"get repository {namespace}/{name}"
        # Public repositories are readable anonymously; authenticate when we can so that a
        # private repository of ours is seen rather than reported missing.
        headers = self._auth() if self._username and self._token else None
        response = self._send(
            action, "GET", f"/v2/namespaces/{namespace}/repositories/{name}", headers=headers
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self._fail(action, response)
        return self._repository(namespace, name, response.json())

    def create_repository(
        self, namespace: str, name: str, description: str, full_description: str
    ) -> Repository:
        validate_dockerhub_description(description, full_description)
        action = f"create repository {namespace}/{name}"
        response = self._send(
            action,
            "POST",
            f"/v2/namespaces/{namespace}/repositories",
            json={
                "namespace": namespace,
                "name": name,
                "description": description,
                "full_description": full_description,
                "is_private": False,
            },
            headers=self._auth(),
        )
        if response.status_code not in (200, 201):
            self._fail(action, response)
        return Repository(namespace, name, description, full_description, is_public=True)

    def update_description(
        self, namespace: str, name: str, description: str, full_description: str
    ) -> Repository:
        validate_dockerhub_description(description, full_description)
        action = f"update description of {namespace}/{name}"
        response = self._send(
            action,
            "PATCH",
            f"/v2/repositories/{namespace}/{name}/",
            json={"description": description, "full_description": full_description},
            headers=self._auth(),
        )
        if response.status_code != 200:
            self._fail(action, response)
        return self._repository(namespace, name, response.json())

    def matches(self, repository: Repository, description: str, full_description: str) -> bool:
        return (repository.description, repository.full_description) == (
            description,
            full_description,
        )

    def delete_tag(self, namespace: str, name: str, tag: str) -> bool:
        """Delete a tag; False when it was already gone."""
        return self._delete(
            f"delete tag {namespace}/{name}:{tag}",
            f"/v2/repositories/{namespace}/{name}/tags/{tag}/",
            ok=(200, 202, 204),
        )

    def web_url(self, namespace: str, name: str) -> str:
        return f"{self.api_base}/r/{namespace}/{name}"


class QuayClient(_Client):
    """quay.io repository metadata. ``token`` is an OAuth application token (repo:admin, create)."""

    registry = "quay.io"

    def __init__(self, token: str | None, api_base: str = QUAY_API, **options: Any) -> None:
        super().__init__(api_base, **options)
        self._token = token

    def _secrets(self) -> Iterable[str]:
        return (self._token,) if self._token else ()

    def _auth(self, required: bool = True) -> dict[str, str]:
        if not self._token:
            if required:
                raise AuthenticationError(
                    self.registry, "authenticate", None, "no token configured"
                )
            return {}
        return {"Authorization": f"Bearer {self._token}"}

    @staticmethod
    def _repository(namespace: str, name: str, body: Mapping[str, Any]) -> Repository:
        return Repository(
            namespace=str(body.get("namespace") or namespace),
            name=str(body.get("name") or name),
            description=str(body.get("description") or ""),
            full_description="",
            is_public=bool(body.get("is_public", False)),
        )

    def get_repository(self, namespace: str, name: str) -> Repository | None:
        action = f"get repository {namespace}/{name}"
        response = self._send(
            action, "GET", f"/api/v1/repository/{namespace}/{name}", headers=self._auth(False)
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self._fail(action, response)
        return self._repository(namespace, name, response.json())

    def create_repository(
        self, namespace: str, name: str, description: str, full_description: str
    ) -> Repository:
        action = f"create repository {namespace}/{name}"
        text = quay_text(description, full_description)
        response = self._send(
            action,
            "POST",
            "/api/v1/repository",
            json={
                "namespace": namespace,
                "repository": name,
                "visibility": "public",
                "description": text,
                "repo_kind": "image",
            },
            headers=self._auth(),
        )
        if response.status_code not in (200, 201):
            self._fail(action, response)
        return Repository(namespace, name, text, "", is_public=True)

    def update_description(
        self, namespace: str, name: str, description: str, full_description: str
    ) -> Repository:
        action = f"update description of {namespace}/{name}"
        text = quay_text(description, full_description)
        response = self._send(
            action,
            "PUT",
            f"/api/v1/repository/{namespace}/{name}",
            json={"description": text},
            headers=self._auth(),
        )
        if response.status_code != 200:
            self._fail(action, response)
        return Repository(namespace, name, text, "", is_public=True)

    def matches(self, repository: Repository, description: str, full_description: str) -> bool:
        return repository.description == quay_text(description, full_description)

    def delete_tag(self, namespace: str, name: str, tag: str) -> bool:
        """Delete a tag; False when it was already gone."""
        return self._delete(
            f"delete tag {namespace}/{name}:{tag}",
            f"/api/v1/repository/{namespace}/{name}/tag/{tag}",
            ok=(200, 204),
        )

    def web_url(self, namespace: str, name: str) -> str:
        return f"{self.api_base}/repository/{namespace}/{name}"


RepositoryMetadataClient = DockerHubClient | QuayClient
