"""A sigstore instance made by the tests, offline: a Fulcio CA, a CT log and a Rekor log, each an
ECDSA P-256 key generated here, and the trusted root that names them.

It issues what a real keyless ``cosign sign`` ends up with (https://docs.sigstore.dev/about/bundle/):
a short-lived leaf certificate for an identity and OIDC issuer, with an embedded precertificate
SCT (RFC 6962 section 3.2), and a Rekor ``hashedrekord`` 0.0.1 entry for the signature with an
inclusion promise (the signed entry timestamp), an inclusion proof in a one-leaf tree (RFC 6962
section 2.1: the root is the leaf hash) and a signed checkpoint
(https://github.com/transparency-dev/formats/blob/main/log/README.md). sigstore-python verifies
all of it against the trusted root, as it would against the public-good instance.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import struct
import time
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_LIST = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
TRUSTED_ROOT = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
ORIGIN = "rekor.test - 1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _der(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _octet_string(data: bytes) -> bytes:
    n = len(data)
    if n < 0x80:
        return bytes([0x04, n]) + data
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(size)]) + size + data


def _utf8_string(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 0x80
    return bytes([0x0C, len(data)]) + data


class SigstoreInstance:
    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.rekor_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore.test"),
                          x509.NameAttribute(NameOID.COMMON_NAME, "test-fulcio")])  # fmt: skip
        ski = x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key())
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - datetime.timedelta(days=1))
            .not_valid_after(self.now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )

    # ---- trust ---------------------------------------------------------------------------

    def _log(self, key: ec.EllipticCurvePrivateKey, url: str) -> dict[str, Any]:
        der = _der(key.public_key())
        start = (self.now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "baseUrl": url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": _b64(der),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": start},
            },
            "logId": {"keyId": _b64(hashlib.sha256(der).digest())},
        }

    def trusted_root(self) -> str:
        start = (self.now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return json.dumps(
            {
                "mediaType": TRUSTED_ROOT,
                "tlogs": [self._log(self.rekor_key, "https://rekor.test")],
                "certificateAuthorities": [
                    {
                        "subject": {"organization": "sigstore.test", "commonName": "test-fulcio"},
                        "uri": "https://fulcio.test",
                        "certChain": {
                            "certificates": [
                                {"rawBytes": _b64(self.ca.public_bytes(serialization.Encoding.DER))}
                            ]
                        },
                        "validFor": {"start": start},
                    }
                ],
                "ctlogs": [self._log(self.ct_key, "https://ctfe.test")],
                "timestampAuthorities": [],
            }
        )

    # ---- Fulcio ----------------------------------------------------------------------------

    def issue(
        self, key: ec.EllipticCurvePrivateKey, identity: str, issuer: str
    ) -> x509.Certificate:
        """A Fulcio-style leaf: empty subject, critical SAN URI, code signing, the issuer
        extension, and one embedded precertificate SCT from the CT log."""
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - datetime.timedelta(minutes=1))
            .not_valid_after(self.now + datetime.timedelta(minutes=10))
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                False,
            )
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]), True
            )
            # Fulcio writes both: the deprecated raw-bytes issuer (what sigstore-python's
            # Identity policy reads) and the DER UTF8String v2.
            .add_extension(x509.UnrecognizedExtension(ISSUER_V1, issuer.encode()), False)
            .add_extension(x509.UnrecognizedExtension(ISSUER_V2, _utf8_string(issuer)), False)
        )
        precert = builder.sign(self.ca_key, hashes.SHA256())
        sct = self._sct(precert.tbs_certificate_bytes)
        tls_list = struct.pack("!H", len(sct) + 2) + struct.pack("!H", len(sct)) + sct
        return builder.add_extension(
            x509.UnrecognizedExtension(SCT_LIST, _octet_string(tls_list)), False
        ).sign(self.ca_key, hashes.SHA256())

    def _sct(self, tbs: bytes) -> bytes:
        issuer_key_hash = hashlib.sha256(_der(self.ca_key.public_key())).digest()
        millis = int(self.now.timestamp() * 1000)
        length = struct.pack("!I", len(tbs))[1:]
        signed = (
            struct.pack("!BBQH", 0, 0, millis, 1) + issuer_key_hash + length + tbs
            + struct.pack("!H", 0)
        )  # fmt: skip
        signature = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        log_id = hashlib.sha256(_der(self.ct_key.public_key())).digest()
        return (
            struct.pack("!B", 0) + log_id + struct.pack("!QH", millis, 0)
            + struct.pack("!BBH", 4, 3, len(signature)) + signature
        )  # fmt: skip

    # ---- Rekor ----------------------------------------------------------------------------

    def log_hashedrekord(
        self, cert: x509.Certificate, signature: bytes, sha256: bytes
    ) -> dict[str, Any]:
        """The bundle's tlogEntries[0] for a hashedrekord 0.0.1 entry of ``signature``."""
        pem = cert.public_bytes(serialization.Encoding.PEM)
        body = json.dumps(
            {
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": sha256.hex()}},
                    "signature": {"content": _b64(signature), "publicKey": {"content": _b64(pem)}},
                },
            }
        ).encode()
        log_id = hashlib.sha256(_der(self.rekor_key.public_key())).digest()
        integrated = int(time.time())
        promise = rfc8785.dumps(
            {"body": _b64(body), "integratedTime": integrated, "logID": log_id.hex(),
             "logIndex": 0}
        )  # fmt: skip
        root = hashlib.sha256(b"\x00" + body).digest()
        note = f"{ORIGIN}\n1\n{_b64(root)}\n"
        note_sig = self.rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        checkpoint = note + f"\n\u2014 rekor.test {_b64(log_id[:4] + note_sig)}\n"
        return {
            "logIndex": "0",
            "logId": {"keyId": _b64(log_id)},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
            "integratedTime": str(integrated),
            "inclusionPromise": {
                "signedEntryTimestamp": _b64(
                    self.rekor_key.sign(promise, ec.ECDSA(hashes.SHA256()))
                )
            },
            "inclusionProof": {
                "logIndex": "0",
                "rootHash": _b64(root),
                "treeSize": "1",
                "hashes": [],
                "checkpoint": {"envelope": checkpoint},
            },
            "canonicalizedBody": _b64(body),
        }
