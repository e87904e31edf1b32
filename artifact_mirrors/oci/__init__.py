"""OCI registry mirroring engine: digest-preserving copies of images, indexes and attachments.

Public API (no Pulumi imports; the Pulumi layer wraps these in a dynamic provider):

- :func:`resolve` ``(ref) -> digest | None``
- :func:`describe` ``(ref@digest) -> Description(digest, media_type, platforms, ...)``
- :func:`delete_tag` ``(repo:tag) -> DeleteResult``
- :func:`copy_image` ``(src@digest, dst_repo, tag, *, floating, signatures) -> CopyResult``
- :class:`Copier` for many copies in one run (shared mounts, dedupe); Copiers sharing a
  :class:`CopySession` (with a :class:`Spool`) also share blob locations, in-flight uploads and
  one source read per blob across destination registries; :class:`Registries` for
  credentials (:class:`CredentialStore`), insecure hosts, CA files and the :class:`RetryPolicy`.
"""

from artifact_mirrors.oci.auth import Credentials, CredentialStore
from artifact_mirrors.oci.client import Registries, RegistryClient, RetryPolicy
from artifact_mirrors.oci.copy import (
    Copier,
    CopyJob,
    CopyResult,
    CopySession,
    ProgressCallback,
    ProgressEvent,
    cosign_tag,
    referrers_tag,
)
from artifact_mirrors.oci.errors import (
    CredentialHelperError,
    DigestMismatchError,
    InvalidReference,
    MirrorError,
    RegistryError,
    TagConflictError,
    TemporaryRegistryError,
    TLSVerifyError,
    UnreachableError,
)
from artifact_mirrors.oci.ops import (
    DeleteResult,
    DeleteUnsupported,
    Description,
    copy_image,
    delete_tag,
    describe,
    resolve,
    why_missing,
)
from artifact_mirrors.oci.reference import Reference, parse_reference
from artifact_mirrors.oci.spool import Spool

__all__ = [
    "Copier",
    "CopyJob",
    "CopyResult",
    "CopySession",
    "CredentialHelperError",
    "CredentialStore",
    "Credentials",
    "DeleteResult",
    "DeleteUnsupported",
    "Description",
    "DigestMismatchError",
    "InvalidReference",
    "MirrorError",
    "ProgressCallback",
    "ProgressEvent",
    "Reference",
    "Registries",
    "RegistryClient",
    "RegistryError",
    "RetryPolicy",
    "Spool",
    "TLSVerifyError",
    "TagConflictError",
    "TemporaryRegistryError",
    "UnreachableError",
    "copy_image",
    "cosign_tag",
    "delete_tag",
    "describe",
    "parse_reference",
    "referrers_tag",
    "resolve",
    "why_missing",
]
