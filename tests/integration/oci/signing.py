"""Test signers: ECDSA P-256 vendors and Fulcio-style certificates made here, and sigstore bundles
attached as OCI referrers the way cosign stores them (https://docs.sigstore.dev/about/bundle/).

docker-registry 2.8 has no referrers API, so a bundle is listed in the subject's referrers
tag-schema fallback index ``sha256-<hex>`` (OCI distribution spec 1.1, "Referrers Tag Schema").
"""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.oci.images import OCI_INDEX, OCI_MANIFEST, Pusher, dumps, sha256
from tests.integration.oci.sigstore_instance import SigstoreInstance

BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY = "application/vnd.oci.empty.v1+json"
IN_TOTO = "application/vnd.in-toto+json"
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")


class Vendor:
    """A key pair: ``sign`` as the vendor's cosign would, ``pub`` the PEM it publishes."""

    def __init__(self, directory: Path, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.pub = directory / name
        self.pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.pub.write_bytes(self.pem)

    def sign(self, payload: bytes) -> bytes:
        return self.key.sign(payload, ec.ECDSA(hashes.SHA256()))

    def certificate(self, identity: str, issuer: str) -> bytes:
        """A short-lived leaf like Fulcio's: the identity as a SAN URI, the OIDC issuer in the
        1.3.6.1.4.1.57264.1.8 extension (DER UTF8String). Self-signed: no test Fulcio CA."""
        now = datetime.datetime.now(datetime.UTC)
        encoded = issuer.encode()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore")]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-fulcio")]))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(minutes=10))
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]), True
            )
            .add_extension(
                x509.UnrecognizedExtension(ISSUER_V2, bytes([0x0C, len(encoded)]) + encoded),
                False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.DER)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def push_bundle(
    p: Pusher,
    repo: str,
    subject: str,
    vendor: Vendor | None,
    *,
    dsse: bool = False,
    signed_digest: str | None = None,
    tamper: bool = False,
    certificate: bytes | None = None,
    log: SigstoreInstance | None = None,
) -> str:
    """A sigstore bundle for ``subject`` as an OCI referrer, listed in its fallback tag.

    messageSignature: the signature over the signed manifest's bytes (what ``cosign sign``
    signs), its digest in ``messageDigest``; ``dsse``: an in-toto statement whose subject is the
    digest, signed over DSSE's PAE. ``signed_digest`` names another image; ``tamper`` changes what
    was signed after signing; no ``vendor``: random bytes as the signature. ``certificate`` makes
    it keyless; ``log`` then records the signature in that instance's Rekor (messageSignature
    only: a hashedrekord entry) so that sigstore-python can verify the whole bundle. Returns the
    referrer's digest.
    """
    target = signed_digest or subject
    if dsse:
        statement = dumps(
            {
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": repo, "digest": {"sha256": target.split(":")[1]}}],
                "predicateType": "https://cosign.sigstore.dev/attestation/v1",
                "predicate": {},
            }
        )
        pae = b"DSSEv1 %d %s %d %s" % (len(IN_TOTO), IN_TOTO.encode(), len(statement), statement)
        signature = vendor.sign(pae) if vendor else b"\x30" * 70
        if tamper:
            statement = statement.replace(b'"predicate":{}', b'"predicate":{"x":1}')
        content: dict[str, Any] = {
            "dsseEnvelope": {
                "payload": _b64(statement),
                "payloadType": IN_TOTO,
                "signatures": [{"sig": _b64(signature), "keyid": ""}],
            }
        }
    else:
        raw, _ = p.raw_manifest(repo, target)
        signed = raw + b" " if tamper else raw
        signature = vendor.sign(signed) if vendor else b"\x30" * 70
        content = {
            "messageSignature": {
                "messageDigest": {
                    "algorithm": "SHA2_256",
                    "digest": _b64(bytes.fromhex(target.split(":")[1])),
                },
                "signature": _b64(signature),
            }
        }
    material: dict[str, Any] = (
        {"certificate": {"rawBytes": _b64(certificate)}}
        if certificate
        else {"publicKey": {"hint": ""}}
    )
    material["tlogEntries"] = []
    if log is not None:
        assert certificate is not None and not dsse
        cert = x509.load_der_x509_certificate(certificate)
        digest = bytes.fromhex(target.split(":")[1])
        material["tlogEntries"] = [log.log_hashedrekord(cert, signature, digest)]
    bundle = dumps({"mediaType": BUNDLE, "verificationMaterial": material, **content})
    raw_subject, subject_type = p.raw_manifest(repo, subject)
    referrer = dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": BUNDLE,
            "config": p.blob(repo, b"{}", EMPTY),
            "layers": [p.blob(repo, bundle, BUNDLE)],
            "subject": {"mediaType": subject_type, "digest": subject, "size": len(raw_subject)},
            "annotations": {
                "dev.sigstore.bundle.content": "dsse-envelope" if dsse else "message-signature"
            },
        }
    )
    desc = p.manifest(repo, sha256(referrer), referrer, OCI_MANIFEST)
    fallback = subject.replace(":", "-")
    listed: list[dict[str, Any]] = []
    if p.tag_digest(repo, fallback) is not None:
        listed = json.loads(p.raw_manifest(repo, fallback)[0])["manifests"]
    index = dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [*listed, {**desc, "artifactType": BUNDLE}],
        }
    )
    p.manifest(repo, fallback, index, OCI_INDEX)
    return str(desc["digest"])
