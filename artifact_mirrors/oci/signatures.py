"""Cosign signatures, verified, never trusted blind: ``.sig`` tags and sigstore bundle referrers.

Two storage formats, as cosign writes them:

- legacy (https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md): the
  ``sha256-<hex>.sig`` tag names an image manifest whose layers are simple-signing payloads
  (``application/vnd.dev.cosign.simplesigning.v1+json``) stored as blobs; each layer's annotation
  ``dev.cosignproject.cosign/signature`` holds the base64 signature over the payload bytes, and
  the payload's ``critical.image.docker-manifest-digest`` names the signed image;
- sigstore bundles (https://docs.sigstore.dev/about/bundle/) attached to the image as OCI
  referrers (artifactType ``application/vnd.dev.sigstore.bundle.v0.3+json``), found through the
  referrers API or its tag-schema fallback ``sha256-<hex>``: a ``messageSignature`` (the
  signature over the image digest) or a ``dsseEnvelope`` (the signature over the DSSE PAE of an
  in-toto statement whose subject is the image digest).

Key-based (a vendor public key: ECDSA, RSA PKCS#1 v1.5 or Ed25519, PEM) is verified here with
``cryptography``: the signed digest must equal the one being mirrored and the signature must
verify with one of the keys. A key-based bundle's transparency-log entry is not checked (the key
is the trust). Keyless bundles (a Fulcio certificate) are first held against the policy's
identity and OIDC issuer (the certificate's SAN and its 1.3.6.1.4.1.57264.1.8 / .1.1 extension),
then verified by sigstore-python against the policy's offline trusted root: certificate chain,
SCTs, and the Rekor inclusion proof and checkpoint it requires. Legacy ``.sig`` layers carrying a
certificate are checked only against the keys, never against the certificate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from artifact_mirrors.oci.copy import cosign_tag, find_referrers, referrers_tag
from artifact_mirrors.oci.errors import MirrorError

if TYPE_CHECKING:
    from artifact_mirrors.oci.client import RegistryClient
    from artifact_mirrors.spec.model import KeylessPolicy, VerifyPolicy

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
COSIGN_TYPE = "cosign container image signature"
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_PREFIX = "application/vnd.dev.sigstore.bundle"
DSSE_PAYLOAD_TYPE = "application/vnd.in-toto+json"
# Fulcio's OIDC issuer extensions: v2 (DER UTF8String) and the deprecated v1 (raw bytes),
# https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
# A simple-signing payload is a few hundred bytes; anything large is not one.
MAX_PAYLOAD_BYTES = 64 << 10
# A bundle holds a certificate chain and log entries: some kilobytes.
MAX_BUNDLE_BYTES = 1 << 20

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

    @classmethod
    def from_pem(cls, name: str, data: bytes) -> VerifyKey:
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            raise KeyFileError(
                name, "not a PEM public key (expected -----BEGIN PUBLIC KEY-----)"
            ) from None
        if not isinstance(
            key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
        ):
            raise KeyFileError(name, f"unsupported key type {type(key).__name__}")
        return cls(name, key)

    @property
    def fingerprint(self) -> str:
        """``sha256:<hex>`` of the DER SubjectPublicKeyInfo (what the plan shows)."""
        der = self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "sha256:" + hashlib.sha256(der).hexdigest()

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

    def verifies_digest(self, signature: bytes, sha256: bytes) -> bool:
        """A signature over a SHA-256 message given by its digest (a bundle's messageSignature).

        Ed25519 signs the message itself, never a digest: no such signature can verify.
        """
        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                self.key.verify(signature, sha256, ec.ECDSA(Prehashed(hashes.SHA256())))
            elif isinstance(self.key, rsa.RSAPublicKey):
                self.key.verify(signature, sha256, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
            else:
                return False
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
        key = VerifyKey.from_pem(path.name, data)
    except KeyFileError as exc:
        raise KeyFileError(str(path), exc.problem) from None
    return key


def policy_keys(policy: VerifyPolicy) -> list[VerifyKey]:
    """The policy's keys, from the PEM text it carries (checked when the spec was loaded)."""
    return [VerifyKey.from_pem(k.name, k.pem.encode()) for k in policy.keys]


@dataclass(frozen=True)
class Verdict:
    """What the signatures of one digest prove: ``key`` set means a valid signature."""

    digest: str
    key: str | None  # the key file or keyless identity that verified
    reason: str  # why not, when key is None; "signed by KEY" otherwise
    signatures: int  # simple-signing layers and bundles looked at

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


def _b64(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


class _Outcome:
    """Reasons collected across every signature looked at; the first success wins."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.looked = 0

    def best(self) -> str:
        # The most telling reason: a wrong key or identity beats a stray payload.
        def rank(reason: str) -> int:
            if reason.startswith(("no signature verifies", "the bundle's signature")):
                return 0
            if reason.startswith("certificate"):
                return 1
            return 2

        return sorted(self.reasons, key=rank)[0]


def _check_sig_tag(
    client: RegistryClient,
    repo: str,
    digest: str,
    keys: Sequence[VerifyKey],
    out: _Outcome,
) -> str | None:
    sig = client.find_manifest(repo, cosign_tag(digest, "sig"))
    if sig is None:
        return None
    layers = [
        layer
        for layer in sig.doc.get("layers") or []
        if isinstance(layer, dict) and layer.get("mediaType") == SIMPLE_SIGNING
    ]
    if not layers:
        out.reasons.append("the signature tag holds no simple-signing payload")
        return None
    for layer in layers:
        out.looked += 1
        annotations = layer.get("annotations") or {}
        encoded = annotations.get(SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
        blob = layer.get("digest")
        size = layer.get("size")
        if not isinstance(blob, str) or not isinstance(encoded, str):
            out.reasons.append("a payload layer has no signature annotation")
            continue
        if isinstance(size, int) and size > MAX_PAYLOAD_BYTES:
            out.reasons.append(f"a payload of {size} bytes is not a simple-signing payload")
            continue
        payload = client.get_blob(repo, blob, max_size=MAX_PAYLOAD_BYTES)
        signed = _payload_digest(payload)
        if signed is None:
            out.reasons.append("a payload is not a cosign simple-signing document")
            continue
        if signed != digest:
            out.reasons.append(f"the signature is for another digest ({signed})")
            continue
        signature = _b64(encoded)
        if signature is None:
            out.reasons.append("a signature annotation is not base64")
            continue
        if not keys:
            out.reasons.append("a .sig signature, and the policy has no key to check it with")
            continue
        for key in keys:
            if key.verifies(signature, payload):
                return key.name
        out.reasons.append(f"no signature verifies with {', '.join(k.name for k in keys)}")
    return None


def _bundles(client: RegistryClient, repo: str, digest: str) -> list[bytes] | None:
    """The sigstore bundles attached to ``digest`` (None: no referrers index at all)."""
    index, _ = find_referrers(client, repo, digest)
    if index is None:
        return None
    out: list[bytes] = []
    for desc in index.doc.get("manifests") or []:
        if not isinstance(desc, dict) or not str(desc.get("artifactType", "")).startswith(
            BUNDLE_PREFIX
        ):
            continue
        manifest = client.find_manifest(repo, str(desc.get("digest")))
        if manifest is None:
            continue
        for layer in manifest.doc.get("layers") or []:
            if isinstance(layer, dict) and str(layer.get("mediaType", "")).startswith(
                BUNDLE_PREFIX
            ):
                out.append(
                    client.get_blob(repo, str(layer.get("digest")), max_size=MAX_BUNDLE_BYTES)
                )
    return out


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding, what is signed
    (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md)."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _statement_digests(payload: bytes) -> list[str]:
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return []
    subjects = doc.get("subject") if isinstance(doc, dict) else None
    out = []
    for subject in subjects if isinstance(subjects, list) else ():
        sha = subject.get("digest", {}).get("sha256") if isinstance(subject, dict) else None
        if isinstance(sha, str):
            out.append("sha256:" + sha)
    return out


@dataclass(frozen=True)
class _Signed:
    """What a bundle signs: the digest it names, and (signature, message-or-digest) pairs."""

    names: list[str]  # digests the bundle is for
    pairs: list[tuple[bytes, bytes]]
    prehashed: bool  # messageSignature: the message is given by its SHA-256 digest


def _bundle_content(doc: dict[str, Any]) -> _Signed | str:
    if isinstance(ms := doc.get("messageSignature"), dict):
        md = ms.get("messageDigest")
        algorithm = md.get("algorithm") if isinstance(md, dict) else None
        value = _b64(md.get("digest")) if isinstance(md, dict) else None
        signature = _b64(ms.get("signature"))
        if algorithm != "SHA2_256" or value is None or signature is None:
            return "a bundle's messageSignature is not a SHA2_256 digest and a base64 signature"
        return _Signed(["sha256:" + value.hex()], [(signature, value)], prehashed=True)
    if isinstance(env := doc.get("dsseEnvelope"), dict):
        payload = _b64(env.get("payload"))
        payload_type = env.get("payloadType")
        if payload is None or not isinstance(payload_type, str):
            return "a bundle's DSSE envelope has no base64 payload and payloadType"
        if payload_type != DSSE_PAYLOAD_TYPE:
            return f"a bundle's DSSE payload is not an in-toto statement ({payload_type})"
        pae = _pae(payload_type, payload)
        pairs = [
            (sig, pae)
            for entry in env.get("signatures") or []
            if isinstance(entry, dict) and (sig := _b64(entry.get("sig"))) is not None
        ]
        return _Signed(_statement_digests(payload), pairs, prehashed=False)
    return "a bundle has neither a messageSignature nor a dsseEnvelope"


def _certificate(material: dict[str, Any]) -> x509.Certificate | str | None:
    raw: object = None
    if isinstance(cert := material.get("certificate"), dict):
        raw = cert.get("rawBytes")
    elif isinstance(chain := material.get("x509CertificateChain"), dict):
        certs = chain.get("certificates") or []
        raw = certs[0].get("rawBytes") if certs and isinstance(certs[0], dict) else None
    else:
        return None
    der = _b64(raw)
    if der is None:
        return "a bundle's certificate is not base64 DER"
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return "a bundle's certificate is not an X.509 certificate"


def certificate_identity(cert: x509.Certificate) -> tuple[list[str], str | None]:
    """(SAN emails and URIs, OIDC issuer) of a Fulcio certificate."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [*san.get_values_for_type(x509.RFC822Name)]
        names += san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        names = []
    issuer: str | None = None
    for oid in (ISSUER_V2, ISSUER_V1):
        try:
            ext = cert.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        value = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b""
        if oid == ISSUER_V2 and len(value) > 2 and value[0] == 0x0C:
            # DER UTF8String: tag, length (short or long form), bytes
            n = value[1]
            skip = 2 + (n & 0x7F if n & 0x80 else 0)
            value = value[skip:]
        issuer = value.decode(errors="replace")
        break
    return names, issuer


def _check_keyless(
    raw: bytes, cert: x509.Certificate, signed: _Signed, rules: Sequence[KeylessPolicy]
) -> tuple[str | None, str]:
    names, issuer = certificate_identity(cert)
    shown = ", ".join(names) or "none"
    if not rules:
        return None, f"a keyless bundle (identity {shown}), and the policy has no keyless identity"
    matching = [r for r in rules if r.identity in names]
    if not matching:
        allowed = ", ".join(r.identity for r in rules)
        return None, f"certificate identity {shown} is not the policy's ({allowed})"
    rule = next((r for r in matching if r.issuer == issuer), None)
    if rule is None:
        allowed = ", ".join(r.issuer for r in matching)
        return None, f"certificate issuer {issuer or 'none'} is not the policy's ({allowed})"
    problem = _sigstore_verify(raw, signed, rule)
    return (None, problem) if problem else (rule.identity, "")


def _sigstore_verify(raw: bytes, signed: _Signed, rule: KeylessPolicy) -> str | None:
    """sigstore-python's full verification against the policy's offline trusted root: the
    certificate chain to its Fulcio CA, SCTs, the Rekor entry's inclusion proof and checkpoint,
    the signature, and the identity/issuer policy. None when it passes."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity
    from sigstore_models.common.v1 import HashAlgorithm

    with tempfile.NamedTemporaryFile("w", suffix=".json") as fh:
        fh.write(rule.trusted_root)
        fh.flush()
        try:
            verifier = Verifier(trusted_root=TrustedRoot.from_file(fh.name))
        except (SigstoreError, ValueError) as exc:
            return f"the trusted root {rule.trusted_root_name} is unusable ({exc})"
    policy = Identity(identity=rule.identity, issuer=rule.issuer)
    try:
        bundle = Bundle.from_json(raw)
        if signed.prehashed:
            digest = signed.pairs[0][1]
            verifier.verify_artifact(Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest),
                                     bundle, policy)  # fmt: skip
        else:
            verifier.verify_dsse(bundle, policy)
    except (SigstoreError, ValueError) as exc:
        return f"the bundle's signature does not verify against {rule.trusted_root_name} ({exc})"
    return None


def _check_bundle(
    raw: bytes,
    digest: str,
    keys: Sequence[VerifyKey],
    rules: Sequence[KeylessPolicy],
    out: _Outcome,
) -> str | None:
    out.looked += 1
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict) or not str(doc.get("mediaType", "")).startswith(BUNDLE_PREFIX):
        out.reasons.append("a bundle referrer is not a sigstore bundle")
        return None
    signed = _bundle_content(doc)
    if isinstance(signed, str):
        out.reasons.append(signed)
        return None
    if digest not in signed.names:
        other = signed.names[0] if signed.names else "no subject"
        out.reasons.append(f"the bundle is for another digest ({other})")
        return None
    material = doc.get("verificationMaterial")
    cert = _certificate(material) if isinstance(material, dict) else None
    if isinstance(cert, str):
        out.reasons.append(cert)
        return None
    if cert is not None:
        who, problem = _check_keyless(raw, cert, signed, rules)
        if who is None:
            out.reasons.append(problem)
        return who
    if not keys:
        out.reasons.append("a key-based bundle, and the policy has no key to check it with")
        return None
    for key in keys:
        for signature, message in signed.pairs:
            ok = (
                key.verifies_digest(signature, message)
                if signed.prehashed
                else key.verifies(signature, message)
            )
            if ok:
                return key.name
    out.reasons.append(
        f"the bundle's signature verifies with none of {', '.join(k.name for k in keys)}"
    )
    return None


def verify_signature(
    client: RegistryClient,
    repo: str,
    digest: str,
    keys: Sequence[VerifyKey],
    keyless: Sequence[KeylessPolicy] = (),
) -> Verdict:
    """Check ``repo``'s ``.sig`` tag and sigstore bundle referrers for a valid signature of
    ``digest`` by one of ``keys`` or a ``keyless`` identity.

    Every reason names the first thing that went wrong, in the order a reviewer would check:
    no signature at all, no payload, a payload for another digest, a signature no key verifies
    (or a certificate outside the policy).
    """
    out = _Outcome()
    signer = _check_sig_tag(client, repo, digest, keys, out)
    if signer is not None:
        return Verdict(digest, signer, f"signed by {signer}", out.looked)
    bundles = _bundles(client, repo, digest)
    for raw in bundles or ():
        signer = _check_bundle(raw, digest, keys, keyless, out)
        if signer is not None:
            return Verdict(digest, signer, f"signed by {signer} (sigstore bundle)", out.looked)
    if not out.reasons:
        return Verdict(
            digest,
            None,
            f"no signature (no {cosign_tag(digest, 'sig')} tag, no sigstore bundle referrer"
            f" in the referrers API or the {referrers_tag(digest)} tag)",
            0,
        )
    return Verdict(digest, None, out.best(), out.looked)


def check_policy(client: RegistryClient, repo: str, digest: str, policy: VerifyPolicy) -> Verdict:
    """``verify_signature`` with an image's spec policy (keys as PEM text, keyless rules)."""
    return verify_signature(client, repo, digest, policy_keys(policy), policy.keyless)
