"""Key-based cosign signatures stored as ``sha256-<hex>.sig`` tags: verified, never trusted blind.

The storage format is cosign's signature spec
(https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md): the ``.sig`` tag names an
image manifest whose layers are simple-signing payloads
(``application/vnd.dev.cosign.simplesigning.v1+json``) stored as blobs; each layer's annotation
``dev.cosignproject.cosign/signature`` holds the base64 signature over the payload bytes, and the
payload's ``critical.image.docker-manifest-digest`` names the signed image. The spec's required
scheme is ECDSA P-256; the hash is the registry's, SHA-256.

What this module verifies: that at least one layer of the ``.sig`` manifest is a payload for
exactly ``digest`` whose signature verifies with one of the given public keys (ECDSA, RSA PKCS#1
v1.5 or Ed25519, PEM). What it does not: keyless (Fulcio certificates, Rekor inclusion proofs)
and sigstore bundles attached as OCI referrers; a layer carrying a certificate is checked only
against the given keys, never against the certificate.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from artifact_mirrors.oci.copy import cosign_tag
from artifact_mirrors.oci.errors import MirrorError

if TYPE_CHECKING:
    from artifact_mirrors.oci.client import RegistryClient

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
COSIGN_TYPE = "cosign container image signature"
# A simple-signing payload is a few hundred bytes; anything large is not one.
MAX_PAYLOAD_BYTES = 64 << 10

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class KeyFileError(ValueError):
    """A public key file that cannot be used; ``problem`` reads after "FILE: "."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class VerifyKey:
    """A vendor public key and the name it is reported by (its file name)."""

    name: str
    key: PublicKey

    def verifies(self, signature: bytes, payload: bytes) -> bool:
        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                self.key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
            elif isinstance(self.key, rsa.RSAPublicKey):
                self.key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
            else:
                self.key.verify(signature, payload)
        except InvalidSignature:
            return False
        return True


def load_key(path: Path) -> VerifyKey:
    """A PEM public key (what ``cosign generate-key-pair`` writes as cosign.pub)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(str(path), f"cannot read it ({exc.strerror or exc})") from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(
            str(path), "not a PEM public key (expected -----BEGIN PUBLIC KEY-----)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise KeyFileError(str(path), f"unsupported key type {type(key).__name__}")
    return VerifyKey(path.name, key)


@dataclass(frozen=True)
class Verdict:
    """What the ``.sig`` tag of one digest proves: ``key`` set means a valid signature."""

    digest: str
    key: str | None
    reason: str  # why not, when key is None; "signed by KEY" otherwise
    signatures: int  # simple-signing layers looked at

    @property
    def ok(self) -> bool:
        return self.key is not None


class SignatureError(MirrorError):
    """A digest that the policy says must be signed is not validly signed: nothing is copied."""

    def __init__(self, image: str, verdict: Verdict) -> None:
        self.image = image
        self.verdict = verdict
        super().__init__(f"{image}@{verdict.digest}: not validly signed: {verdict.reason}")


def _payload_digest(payload: bytes) -> str | None:
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    critical = doc.get("critical") if isinstance(doc, dict) else None
    if not isinstance(critical, dict) or critical.get("type") != COSIGN_TYPE:
        return None
    image = critical.get("image")
    if not isinstance(image, dict):
        return None
    # The spec's example spells it Docker-manifest-digest, cosign writes docker-manifest-digest.
    for name, value in image.items():
        if name.lower() == "docker-manifest-digest" and isinstance(value, str):
            return value
    return None


def verify_signature(
    client: RegistryClient, repo: str, digest: str, keys: Sequence[VerifyKey]
) -> Verdict:
    """Check ``repo``'s ``sha256-<hex>.sig`` tag for a valid signature of ``digest``.

    Every reason names the first thing that went wrong, in the order a reviewer would check:
    no signature tag, no simple-signing layer, a payload for another digest, a signature no key
    verifies.
    """
    sig = client.find_manifest(repo, cosign_tag(digest, "sig"))
    if sig is None:
        return Verdict(digest, None, f"no signature (no {cosign_tag(digest, 'sig')} tag)", 0)
    layers = [
        layer
        for layer in sig.doc.get("layers") or []
        if isinstance(layer, dict) and layer.get("mediaType") == SIMPLE_SIGNING
    ]
    if not layers:
        return Verdict(digest, None, "the signature tag holds no simple-signing payload", 0)
    reasons: list[str] = []
    for layer in layers:
        annotations = layer.get("annotations") or {}
        encoded = annotations.get(SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
        blob = layer.get("digest")
        size = layer.get("size")
        if not isinstance(blob, str) or not isinstance(encoded, str):
            reasons.append("a payload layer has no signature annotation")
            continue
        if isinstance(size, int) and size > MAX_PAYLOAD_BYTES:
            reasons.append(f"a payload of {size} bytes is not a simple-signing payload")
            continue
        payload = client.get_blob(repo, blob, max_size=MAX_PAYLOAD_BYTES)
        signed = _payload_digest(payload)
        if signed is None:
            reasons.append("a payload is not a cosign simple-signing document")
            continue
        if signed != digest:
            reasons.append(f"the signature is for another digest ({signed})")
            continue
        try:
            signature = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            reasons.append("a signature annotation is not base64")
            continue
        for key in keys:
            if key.verifies(signature, payload):
                return Verdict(digest, key.name, f"signed by {key.name}", len(layers))
        names = ", ".join(k.name for k in keys)
        reasons.append(f"no signature verifies with {names}")
    # The most telling reason: a wrong key beats a stray payload for another digest.
    reasons.sort(key=lambda r: not r.startswith("no signature verifies"))
    return Verdict(digest, None, reasons[0], len(layers))
