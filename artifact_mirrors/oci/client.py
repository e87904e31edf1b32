"""A small OCI distribution client (https://github.com/opencontainers/distribution-spec).

Concurrency model: synchronous httpx plus a bounded thread pool in the copier. Blob transfers are
socket I/O and hashlib, both of which release the GIL, so threads scale like async here; a sync API
also runs unchanged inside a Pulumi dynamic provider (which already owns an event loop, so
``asyncio.run`` there would fail) and keeps tracebacks simple. ``httpx.Client`` is thread-safe and
pools connections per host.

Authentication follows the WWW-Authenticate challenge flow docker uses
(https://distribution.github.io/distribution/spec/auth/token/): anonymous first; on ``401`` with
``Bearer realm=...,service=...`` fetch a token for the scopes the call needs (``repository:R:pull``
or ``pull,push``; a cross-repository mount also asks ``repository:FROM:pull``) with basic
credentials if we have some; on ``Basic`` send the credentials. Once a registry is known to use
tokens, tokens are fetched before the request (no 401 round trip per new scope) and refreshed
before they expire.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import tenacity

from artifact_mirrors import __version__
from artifact_mirrors.oci.auth import Credentials, CredentialStore, env_key
from artifact_mirrors.oci.errors import (
    MirrorError,
    RegistryError,
    TemporaryRegistryError,
    TLSVerifyError,
    UnreachableError,
)
from artifact_mirrors.oci.media import ACCEPT, Descriptor, Manifest, digest_of, verify_digest

log = logging.getLogger(__name__)

# distribution (docker-registry) refuses manifests over 4 MiB (registry/handlers/manifests.go,
# maxManifestBodySize = 4 << 20), and skopeo's containers/image reads at most as much
# (internal/iolimits: MaxManifestBodySize, "aligns with the one of a Docker registry"). Nothing
# bigger is read into memory or pushed on.
MAX_MANIFEST_BYTES = 4 << 20
TEMPORARY_CODES = frozenset({"TOOMANYREQUESTS", "UNAVAILABLE"})
USER_AGENT = f"artifact-mirrors/{__version__}"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter; ``Retry-After`` wins when the registry sends it.

    Tests inject a tiny ``initial`` and a recording ``sleep``.
    """

    attempts: int = 6
    initial: float = 0.5
    maximum: float = 30.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def delay(self, attempt: int, exc: BaseException | None) -> float:
        if isinstance(exc, TemporaryRegistryError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after)
        base = min(self.maximum, self.initial * 2 ** max(attempt - 1, 0))
        return random.uniform(base / 2, base)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="x",service="y"`` -> ("bearer", {"realm": "x", "service": "y"})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
    params.update(
        {k.lower(): v for k, v in re.findall(r'(\w+)=([^",\s]+)', rest) if k.lower() not in params}
    )
    return scheme.lower(), params


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLError):
            return cur
        for arg in getattr(cur, "args", ()):
            if isinstance(arg, ssl.SSLError):
                return arg
        cur = cur.__cause__ or cur.__context__
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return ssl.SSLCertVerificationError(str(exc))
    return None


# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH
# (https://docs.openssl.org/master/man3/X509_STORE_CTX_get_error/): the chain is trusted but
# names another host, so no CA bundle helps.
_NAME_MISMATCH = (62, 64)


def _verify_error(host: str, cause: ssl.SSLCertVerificationError) -> TLSVerifyError:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if getattr(cause, "verify_code", None) in _NAME_MISMATCH or "mismatch, certificate" in str(
        cause
    ):
        return TLSVerifyError(
            host,
            f"TLS verification failed: the certificate is not valid for the name {name}",
            f"reach the registry by a name its certificate lists, or reissue the certificate "
            f"with {name} in its subject alternative names; TLS is never disabled",
        )
    reason = getattr(cause, "verify_message", "") or "certificate verify failed"
    return TLSVerifyError(
        host,
        f"TLS verification failed: {reason}",
        "pass the registry's CA certificate (mirrors copy --ca-file HOST=PATH, or tls.ca_file "
        "in the spec); TLS is never disabled",
    )


@functools.cache
def _unreachable_reason(exc: BaseException) -> str | None:
    """ "connection refused" / "unknown host" when that is what ended a connect, else None."""
    if not isinstance(exc, httpx.ConnectError):
        return None
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, socket.gaierror):
            return "unknown host"
        if isinstance(cur, ConnectionRefusedError):
            return "connection refused"
        cur = cur.__cause__ or cur.__context__
    return None


def default_tls_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi's CA bundle, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR``), built once per process and shared by every client.

    Building one parses ~150 CA certificates (~18 ms here), and ``httpx.Client()`` builds a new one
    per client even for plain-HTTP hosts (a redirect may lead to HTTPS). An ``SSLContext`` is safe
    to share between threads and connections; it is only read after this point.
    """
    return httpx.create_ssl_context()


def scope(repository: str, actions: str) -> str:
    return f"repository:{repository}:{actions}"


class RegistryClient:
    """Distribution API calls against one registry host. Thread-safe."""

    def __init__(
        self,
        host: str,
        *,
        credentials: Callable[[], Credentials | None],
        insecure: bool = False,
        ca_file: Path | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 300.0,
        pool_size: int = 32,
    ) -> None:
        self.host = host
        self.base = f"{'http' if insecure else 'https'}://{host}"
        self.retry = retry or RetryPolicy()
        self._credentials_source = credentials
        self._credentials: Credentials | None = None
        self._credentials_loaded = False
        verify = (
            ssl.create_default_context(cafile=str(ca_file))
            if ca_file is not None
            else default_tls_context()
        )
        self._http = httpx.Client(
            verify=verify,
            timeout=httpx.Timeout(timeout, connect=30.0, pool=None),
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
            headers={"User-Agent": USER_AGENT},
        )
        self._lock = threading.RLock()
        self._mode: str | None = None  # None (unknown/anonymous), "basic" or "bearer"
        self._challenge: dict[str, str] = {}
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self.ratelimit_remaining: int | None = None
        # None: unknown; False once the registry answered 404 (OCI distribution-spec 1.1: a
        # registry with the API answers 200 even for an unknown digest).
        self.referrers_api: bool | None = None
        # The first referrers call answers for the whole registry: concurrent first calls wait
        # for it instead of each probing (a copy asks for every manifest's referrers at once).
        self._referrers_probe = threading.Lock()

    def __repr__(self) -> str:
        return f"RegistryClient({self.base!r})"

    def close(self) -> None:
        self._http.close()

    # -- auth --------------------------------------------------------------------------------
    def _creds(self) -> Credentials | None:
        with self._lock:
            if not self._credentials_loaded:
                self._credentials = self._credentials_source()
                self._credentials_loaded = True
            return self._credentials

    def _authorization(self, scopes: Sequence[str], repo: str, target: str) -> str | None:
        with self._lock:
            if self._mode == "basic":
                creds = self._creds()
                return creds.basic_header() if creds else None
            if self._mode == "bearer":
                key = tuple(sorted(set(scopes)))
                token = self._tokens.get(key)
                if token is None or token[1] <= time.monotonic():
                    token = self._fetch_token(key, repo, target)
                return f"Bearer {token[0]}"
        return None

    def _fetch_token(self, scopes: tuple[str, ...], repo: str, target: str) -> tuple[str, float]:
        realm = self._challenge.get("realm", "")
        if not realm:
            self._fail(repo, target, None, "bearer challenge without realm")
        params: list[tuple[str, str | int | float | bool | None]] = []
        if self._challenge.get("service"):
            params.append(("service", self._challenge["service"]))
        params += [("scope", s) for s in scopes]
        headers = {}
        creds = self._creds()
        if creds is not None:
            headers["Authorization"] = creds.basic_header()
        try:
            resp = self._http.get(realm, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise self._transport_error(exc, repo, target) from None
        if resp.status_code != 200:
            raise self._error(resp, repo, target, what="token request")
        try:
            doc = resp.json()
            token = str(doc.get("token") or doc["access_token"])
        except (ValueError, KeyError):
            self._fail(repo, target, resp.status_code, "token endpoint returned no token")
        # Docker's default token lifetime is 60 s; refresh a little early.
        lifetime = float(doc.get("expires_in") or 60)
        expiry = time.monotonic() + max(lifetime - 10.0, lifetime / 2)
        self._tokens[scopes] = (token, expiry)
        return token, expiry

    def _handle_challenge(
        self, header: str, scopes: Sequence[str], repo: str, target: str, sent: str | None
    ) -> bool:
        """Learn the auth scheme from a 401; True if the request is worth sending again.

        ``sent`` is the Authorization header the refused request carried. Concurrent first
        requests all go out before any 401 taught us the scheme; only one of them changes the
        mode, so "not the first 401" alone must not fail the others: a request that did not
        carry what we would send now is retried with it.
        """
        scheme, params = parse_challenge(header)
        with self._lock:
            if scheme == "bearer":
                first = self._mode != "bearer" or self._challenge != params
                self._mode, self._challenge = "bearer", params
                key = tuple(sorted(set(scopes)))
                if not first and key in self._tokens:
                    if sent != f"Bearer {self._tokens[key][0]}":
                        return True  # raced with the request that fetched this token
                    # A token we just used was refused: it expired or lacks the scope.
                    del self._tokens[key]
                    return False
                self._fetch_token(key, repo, target)
                return True
            if scheme == "basic":
                first = self._mode != "basic"
                self._mode = "basic"
                creds = self._creds()
                return creds is not None and (first or sent != creds.basic_header())
        return False

    # -- errors ------------------------------------------------------------------------------
    def _fail(self, repo: str, target: str, status: int | None, detail: str) -> NoReturn:
        raise RegistryError(
            registry=self.host, repository=repo, target=target, status=status, detail=detail
        )

    def _error(self, resp: httpx.Response, repo: str, target: str, what: str = "") -> RegistryError:
        status = resp.status_code
        code, detail = "", ""
        try:
            resp.read()
            errors = resp.json().get("errors") or []
            if errors:
                code = str(errors[0].get("code") or "")
                detail = str(errors[0].get("message") or "")
        except (ValueError, AttributeError, httpx.HTTPError, httpx.StreamError):
            pass
        if not code and not detail:
            detail = resp.reason_phrase
        if what:
            detail = f"{what}: {detail}"
        if status == 401 and self._creds() is None:
            detail += (
                f" (no credentials for {self.host}: docker login {self.host}, "
                f"or set {env_key(self.host)}_USERNAME/_PASSWORD)"
            )
        temporary = status in (408, 429) or status >= 500 or code in TEMPORARY_CODES
        kwargs: dict[str, Any] = {
            "registry": self.host,
            "repository": repo,
            "target": target,
            "status": status,
            "code": code,
            "detail": detail,
        }
        if temporary:
            return TemporaryRegistryError(
                retry_after=parse_retry_after(resp.headers.get("Retry-After")), **kwargs
            )
        return RegistryError(**kwargs)

    def _transport_error(self, exc: httpx.TransportError, repo: str, target: str) -> MirrorError:
        unreachable = _unreachable_reason(exc)
        if unreachable is not None:
            return UnreachableError(self.host, unreachable)
        cause = _ssl_cause(exc)
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _verify_error(self.host, cause)
        if cause is not None:
            return TLSVerifyError(
                self.host,
                f"TLS handshake failed: {cause.reason or cause}",
                "if the registry serves plain HTTP, mark it insecure (mirrors copy --insecure "
                "HOST:PORT, or insecure: true for an oci registry in the spec)",
            )
        return TemporaryRegistryError(
            registry=self.host,
            repository=repo,
            target=target,
            status=None,
            detail=f"connection error: {type(exc).__name__}: {exc}".rstrip(": "),
        )

    # -- requests ----------------------------------------------------------------------------
    def _note_headers(self, resp: httpx.Response) -> None:
        # Docker Hub: "ratelimit-remaining: 76;w=21600" (https://docs.docker.com/docker-hub/usage/)
        value = resp.headers.get("ratelimit-remaining")
        if value:
            with suppress(ValueError):
                self.ratelimit_remaining = int(value.split(";", 1)[0])

    def url(self, path_or_url: str | httpx.URL) -> httpx.URL:
        return httpx.URL(self.base).join(path_or_url)

    def send(
        self,
        method: str,
        path_or_url: str | httpx.URL,
        *,
        scopes: Sequence[str],
        repo: str,
        target: str,
        ok: Sequence[int] = (200,),
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        content: bytes | Iterator[bytes] | None = None,
        stream: bool = False,
        follow_redirects: bool = False,
        allow: Sequence[int] = (),
    ) -> httpx.Response:
        """One request (plus an auth round trip); raise RegistryError unless status in ok/allow.

        No retries here: see :meth:`retrying`. Statuses in ``allow`` are returned to the caller
        (e.g. 404 for "absent") instead of raising.
        """
        resendable = content is None or isinstance(content, bytes)
        url = self.url(path_or_url)
        for attempt in range(2):
            hdrs = dict(headers or {})
            auth = self._authorization(scopes, repo, target)
            if auth:
                hdrs["Authorization"] = auth
            try:
                req = self._http.build_request(
                    method, url, headers=hdrs, params=params, content=content
                )
                resp = self._http.send(req, stream=stream, follow_redirects=follow_redirects)
            except httpx.TransportError as exc:
                raise self._transport_error(exc, repo, target) from exc
            self._note_headers(resp)
            if resp.status_code == 401 and attempt == 0:
                challenge = resp.headers.get("WWW-Authenticate", "")
                resp.close()
                if not resendable:
                    # A streamed body cannot be replayed: drop the token, let the caller retry.
                    with self._lock:
                        self._tokens.pop(tuple(sorted(set(scopes))), None)
                    raise TemporaryRegistryError(
                        registry=self.host,
                        repository=repo,
                        target=target,
                        status=401,
                        code="UNAUTHORIZED",
                        detail="token expired during upload",
                    )
                if challenge and self._handle_challenge(challenge, scopes, repo, target, auth):
                    continue
            if resp.status_code in ok or resp.status_code in allow:
                return resp
            if method != "HEAD":
                try:
                    raise self._error(resp, repo, target)
                finally:
                    resp.close()
            resp.close()
            if method == "HEAD":
                # A HEAD error has no body, hence no registry error code: ask again with GET
                # (as crane does) so the message can name DENIED, UNAUTHORIZED, ...
                try:
                    with self._http.stream(
                        "GET", url, headers=hdrs, params=params, follow_redirects=follow_redirects
                    ) as again:
                        if again.status_code == resp.status_code:
                            again.read()
                            raise self._error(again, repo, target)
                except httpx.TransportError:
                    pass
            raise self._error(resp, repo, target)
        raise AssertionError("unreachable")

    def retrying(self) -> tenacity.Retrying:
        policy = self.retry

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return policy.delay(state.attempt_number, exc)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "retrying after %.2fs (attempt %d/%d): %s",
                state.upcoming_sleep,
                state.attempt_number,
                policy.attempts,
                exc,
            )

        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.attempts),
            wait=wait,
            retry=tenacity.retry_if_exception_type(TemporaryRegistryError),
            sleep=policy.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """:meth:`send` with retries of temporary failures (non-streaming requests only)."""
        for attempt in self.retrying():
            with attempt:
                resp = self.send(method, path, **kwargs)
                if not kwargs.get("stream"):
                    resp.read()
                return resp
        raise AssertionError("unreachable")

    # -- manifests ---------------------------------------------------------------------------
    @staticmethod
    def _target(ref: str) -> str:
        return f"@{ref}" if ":" in ref else f":{ref}"

    def head_manifest(self, repo: str, ref: str) -> Descriptor | None:
        """Descriptor of a tag or digest, or None if absent. HEAD is free on Docker Hub's quota."""
        target = self._target(ref)
        resp = self.call(
            "HEAD",
            f"/v2/{repo}/manifests/{ref}",
            scopes=[scope(repo, "pull")],
            repo=repo,
            target=target,
            headers={"Accept": ACCEPT},
            allow=(404,),
        )
        if resp.status_code == 404:
            return None
        digest = resp.headers.get("Docker-Content-Digest")
        if not digest:
            # Not every registry sends the header on HEAD (it is a SHOULD); GET and hash.
            m = self.get_manifest(repo, ref)
            return m.descriptor()
        return Descriptor(
            media_type=resp.headers.get("Content-Type", "").split(";")[0].strip(),
            digest=digest,
            size=int(resp.headers.get("Content-Length") or 0),
        )

    def get_manifest(self, repo: str, ref: str, *, allow_missing: bool = False) -> Manifest:
        target = self._target(ref)
        resp = self.call(
            "GET",
            f"/v2/{repo}/manifests/{ref}",
            scopes=[scope(repo, "pull")],
            repo=repo,
            target=target,
            headers={"Accept": ACCEPT},
            stream=True,
        )
        try:
            raw = self._bounded_body(resp, repo, target)
        finally:
            resp.close()
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if ":" in ref:
            verify_digest(raw, ref, f"{self.host}/{repo}@{ref}")
            digest = ref
        else:
            header = resp.headers.get("Docker-Content-Digest", "")
            algorithm = header.partition(":")[0] if ":" in header else "sha256"
            digest = digest_of(raw, algorithm)
            if header and header != digest:
                raise RegistryError(
                    registry=self.host,
                    repository=repo,
                    target=target,
                    status=resp.status_code,
                    detail=f"manifest hashes to {digest} but registry says {header}",
                )
        return Manifest(raw=raw, media_type=media_type, digest=digest)

    def _bounded_body(self, resp: httpx.Response, repo: str, target: str) -> bytes:
        """A manifest body, refused before it is read whole when larger than registries accept."""
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_MANIFEST_BYTES:
            self._manifest_too_large(repo, target, f"{int(declared):,} bytes")
        body = bytearray()
        for chunk in resp.iter_bytes():
            body += chunk
            if len(body) > MAX_MANIFEST_BYTES:
                self._manifest_too_large(repo, target, f"over {MAX_MANIFEST_BYTES:,} bytes")
        return bytes(body)

    def _manifest_too_large(self, repo: str, target: str, size: str) -> NoReturn:
        self._fail(
            repo,
            target,
            None,
            f"manifest is {size}, more than registries accept ({MAX_MANIFEST_BYTES:,} bytes, "
            "distribution's limit); refusing to read or push it",
        )

    def find_manifest(self, repo: str, ref: str) -> Manifest | None:
        try:
            return self.get_manifest(repo, ref)
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise

    def put_manifest(self, repo: str, ref: str, manifest: Manifest) -> httpx.Response:
        return self.call(
            "PUT",
            f"/v2/{repo}/manifests/{ref}",
            scopes=[scope(repo, "pull,push")],
            repo=repo,
            target=self._target(ref),
            headers={"Content-Type": manifest.media_type},
            content=manifest.raw,
            ok=(200, 201, 202),
        )

    def delete_manifest(self, repo: str, ref: str) -> None:
        self.call(
            "DELETE",
            f"/v2/{repo}/manifests/{ref}",
            scopes=[scope(repo, "delete"), scope(repo, "pull,push")],
            repo=repo,
            target=self._target(ref),
            ok=(200, 202),
        )

    def list_tags(self, repo: str) -> list[str]:
        tags: list[str] = []
        path: str | None = f"/v2/{repo}/tags/list?n=1000"
        while path:
            resp = self.call("GET", path, scopes=[scope(repo, "pull")], repo=repo, target="")
            tags += resp.json().get("tags") or []
            # Pagination: Link: </v2/x/tags/list?n=1000&last=y>; rel="next"
            match = re.search(r"<([^>]+)>\s*;\s*rel=\"?next\"?", resp.headers.get("Link", ""))
            path = match.group(1) if match else None
        return tags

    def referrers(self, repo: str, digest: str) -> Manifest | None:
        """The referrers index for ``digest``, or None if the registry has no referrers API."""
        if self.referrers_api is None:
            with self._referrers_probe:
                if self.referrers_api is None:
                    return self._referrers(repo, digest)
        if self.referrers_api is False:
            return None
        return self._referrers(repo, digest)

    def _referrers(self, repo: str, digest: str) -> Manifest | None:
        resp = self.call(
            "GET",
            f"/v2/{repo}/referrers/{digest}",
            scopes=[scope(repo, "pull")],
            repo=repo,
            target=f"@{digest}",
            headers={"Accept": "application/vnd.oci.image.index.v1+json"},
            allow=(404, 400, 405),
        )
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if resp.status_code != 200 or "json" not in ctype:
            # docker-registry 2.8 answers 404 "404 page not found" (text/plain): no API.
            self.referrers_api = False
            return None
        self.referrers_api = True
        return Manifest(raw=resp.content, media_type=ctype, digest=digest_of(resp.content))

    # -- blobs -------------------------------------------------------------------------------
    def blob_exists(self, repo: str, digest: str) -> bool:
        # Registries backed by a CDN or object store may answer a blob HEAD with a redirect;
        # they only redirect for blobs they hold, and the presigned target may refuse HEAD.
        redirects = (302, 303, 307, 308)
        resp = self.call(
            "HEAD",
            f"/v2/{repo}/blobs/{digest}",
            scopes=[scope(repo, "pull")],
            repo=repo,
            target=f"@{digest}",
            allow=(404, *redirects),
        )
        return resp.status_code == 200 or resp.status_code in redirects

    @contextmanager
    def open_blob(
        self, repo: str, digest: str, *, allow: Sequence[int] = ()
    ) -> Iterator[httpx.Response]:
        # Docker Hub and ECR redirect blob GETs to a CDN / S3; httpx drops Authorization on a
        # cross-origin redirect, as those backends require.
        resp = self.send(
            "GET",
            f"/v2/{repo}/blobs/{digest}",
            scopes=[scope(repo, "pull")],
            repo=repo,
            target=f"@{digest}",
            stream=True,
            follow_redirects=True,
            allow=allow,
        )
        try:
            yield resp
        finally:
            resp.close()

    def get_blob(self, repo: str, digest: str, max_size: int = 4 << 20) -> bytes:
        """A small blob (image config) in memory, digest verified."""
        resp = self.call(
            "GET",
            f"/v2/{repo}/blobs/{digest}",
            scopes=[scope(repo, "pull")],
            repo=repo,
            target=f"@{digest}",
            follow_redirects=True,
        )
        if len(resp.content) > max_size:
            self._fail(repo, f"@{digest}", resp.status_code, "blob too large to read in memory")
        verify_digest(resp.content, digest, f"{self.host}/{repo}@{digest}")
        return resp.content

    def find_blob(self, repo: str, digest: str, max_size: int) -> bytes | None:
        """A blob's bytes as the registry serves them (None: absent), NOT digest-verified: for a
        verifier that reports what the bytes hash to instead of failing on the mismatch."""
        with self.open_blob(repo, digest, allow=(404,)) as resp:
            if resp.status_code == 404:
                return None
            body = bytearray()
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > max_size:
                    self._fail(repo, f"@{digest}", resp.status_code, "blob too large to read")
            return bytes(body)

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> str | None:
        """Cross-repository mount. None if mounted; else the upload URL the registry opened."""
        resp = self.call(
            "POST",
            f"/v2/{repo}/blobs/uploads/",
            params={"mount": digest, "from": from_repo},
            scopes=[scope(repo, "pull,push"), scope(from_repo, "pull")],
            repo=repo,
            target=f"@{digest}",
            ok=(201, 202),
        )
        if resp.status_code == 201:
            return None
        return resp.headers["Location"]

    def start_upload(self, repo: str, digest: str) -> str:
        resp = self.call(
            "POST",
            f"/v2/{repo}/blobs/uploads/",
            scopes=[scope(repo, "pull,push")],
            repo=repo,
            target=f"@{digest}",
            ok=(202,),
        )
        return resp.headers["Location"]

    def upload(
        self, repo: str, location: str, digest: str, size: int, body: Iterator[bytes]
    ) -> None:
        """Stream ``body`` into an upload session and commit it as ``digest`` (not retried here).

        PATCH with the whole stream then an empty PUT ?digest=: the sequence go-containerregistry
        uses against Docker Hub, ECR, GCR and quay. Content-Length is set so registries backed by
        object stores need not buffer a chunked body.
        """
        target = f"@{digest}"
        scopes = [scope(repo, "pull,push")]
        resp = self.send(
            "PATCH",
            location,
            scopes=scopes,
            repo=repo,
            target=target,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            content=body,
            ok=(202, 204),
        )
        resp.close()
        commit = self.url(resp.headers.get("Location") or location).copy_merge_params(
            {"digest": digest}
        )
        self.call(
            "PUT",
            str(commit),
            scopes=scopes,
            repo=repo,
            target=target,
            headers={"Content-Length": "0"},
            content=b"",
            ok=(201, 204),
        )

    def cancel_upload(self, repo: str, location: str) -> None:
        try:
            self.send(
                "DELETE",
                location,
                scopes=[scope(repo, "pull,push")],
                repo=repo,
                target="",
                ok=(204, 200, 202, 404),
            ).close()
        except MirrorError as exc:  # best effort: the registry expires abandoned uploads anyway
            log.debug("cancelling upload in %s/%s failed: %s", self.host, repo, exc)


class Registries:
    """One :class:`RegistryClient` per host, sharing credentials, TLS and retry settings."""

    def __init__(
        self,
        *,
        credentials: CredentialStore | None = None,
        insecure: Sequence[str] = (),
        ca_files: Mapping[str, Path] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 300.0,
    ) -> None:
        self.credentials = credentials or CredentialStore()
        self.insecure = frozenset(insecure)
        self.ca_files = dict(ca_files or {})
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Registries(hosts={sorted(self._clients)!r})"

    def client(self, host: str) -> RegistryClient:
        with self._lock:
            client = self._clients.get(host)
            if client is None:
                store = self.credentials
                client = RegistryClient(
                    host,
                    credentials=lambda: store.lookup(host),
                    insecure=host in self.insecure,
                    ca_file=self.ca_files.get(host),
                    retry=self.retry,
                    timeout=self.timeout,
                )
                self._clients[host] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def __enter__(self) -> Registries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
