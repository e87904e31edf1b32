"""Errors raised by the OCI client and copier.

Every message names what failed (registry, repository, tag or digest, HTTP status, the registry's
error code) and never a credential: exceptions end up in CLI output, logs and Pulumi diagnostics.
"""

from __future__ import annotations


class MirrorError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidReference(MirrorError, ValueError):
    """A reference string that cannot be used (bad syntax, or missing tag/digest where needed)."""

    def __init__(self, problem: str, value: str, hint: str) -> None:
        self.problem = problem
        self.value = value
        self.hint = hint
        super().__init__(f"{problem} (got {value}). Hint: {hint}")


class RegistryError(MirrorError):
    """A registry answered with an error (or could not be reached) for one registry operation.

    ``op`` is the high-level operation ("copy", "resolve", ...) and ``role`` the side the registry
    is on ("source" or "destination"); the copier sets both so the message reads
    ``copy failed: destination 127.0.0.1:5001/team/app@sha256:...: HTTP 403 DENIED: ...``.
    """

    def __init__(
        self,
        *,
        registry: str,
        repository: str,
        target: str,
        status: int | None,
        code: str = "",
        detail: str = "",
        op: str = "request",
        role: str = "",
    ) -> None:
        self.registry = registry
        self.repository = repository
        # ":tag", "@sha256:..." or "" (repository-level calls).
        self.target = target
        self.status = status
        self.code = code
        self.detail = detail
        self.op = op
        self.role = role
        super().__init__()

    @property
    def location(self) -> str:
        return f"{self.registry}/{self.repository}{self.target}"

    def __str__(self) -> str:
        if self.status is None:
            what = self.detail
        else:
            what = f"HTTP {self.status}"
            if self.code:
                what += f" {self.code}"
                if self.detail:
                    what += f": {self.detail}"
            elif self.detail:
                what += f" {self.detail}"
        who = f"{self.role} {self.location}" if self.role else self.location
        return f"{self.op} failed: {who}: {what}"


class TemporaryRegistryError(RegistryError):
    """A failure worth retrying (408, 429, 5xx, TOOMANYREQUESTS/UNAVAILABLE, resets, timeouts)."""

    def __init__(self, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)  # type: ignore[arg-type]


class UnreachableError(MirrorError):
    """Nothing answers at a registry's address (connection refused, unknown host): never retried,
    since waiting does not make a wrong host:port right. ``role`` ("source"/"destination") is set
    by the copier, which knows which side the registry is on."""

    def __init__(self, host: str, reason: str, role: str = "") -> None:
        self.host = host
        self.reason = reason
        self.role = role
        super().__init__()

    def __str__(self) -> str:
        who = f"{self.role} registry {self.host}" if self.role else f"registry {self.host}"
        return (
            f"{who} is unreachable: {self.reason}. Hint: check the {self.role or 'registry'} "
            "host and port, and that the registry is running"
        )


class TLSVerifyError(MirrorError):
    """The registry's certificate could not be verified, or the TLS handshake failed (never
    retried). ``role`` ("source"/"destination") is set by the copier, like UnreachableError's."""

    def __init__(self, host: str, problem: str, hint: str, role: str = "") -> None:
        self.host = host
        self.problem = problem  # "TLS verification failed: ..." / "TLS handshake failed: ..."
        self.hint = hint
        self.role = role
        super().__init__()

    def __str__(self) -> str:
        who = f"{self.role} registry {self.host}" if self.role else f"registry {self.host}"
        what, _, reason = self.problem.partition(": ")
        return f"{what} for {who}: {reason}. Hint: {self.hint}"


class DigestMismatchError(MirrorError):
    """Content fetched by digest did not hash to that digest (or had the wrong size)."""


class TagConflictError(MirrorError):
    """A release tag already points at another digest and may not move (crane's no-clobber)."""

    def __init__(self, location: str, existing: str, wanted: str) -> None:
        self.location = location
        self.existing = existing
        self.wanted = wanted
        super().__init__(
            f"tag {location} already points at {existing}, refusing to move it to {wanted} "
            "(release tags never move; mark the tag floating to allow it)"
        )


class CredentialHelperError(MirrorError):
    """A configured docker-credential-<name> helper is missing or failed."""
