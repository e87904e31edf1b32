"""OpenPGP signatures checked with Debian's ``gpgv``: a Terraform provider's ``.sums`` file
(a detached signature, artifact_mirrors/terraform/resolve.py) and a Helm chart's ``.prov`` file
(a clearsigned document, artifact_mirrors/charts/provenance.py).

Why gpgv: it is the verify-only tool apt itself uses for every archive signature (Debian package
``gpgv``, installed on every Debian system as a dependency of apt); it keeps no state (no agent,
no trust database), takes an explicit keyring, and reports through a machine-readable status
channel (``--status-fd``, doc/DETAILS in GnuPG). The Python OpenPGP libraries we could use
instead are either unmaintained (PGPy) or wrap the same GnuPG binaries (python-gnupg).

gpgv reads binary keyrings, so the ASCII armor the registry publishes is decoded here: the body
is base64 and the optional ``=XXXX`` line its CRC-24 (RFC 4880, sections 6.1 and 6.2).
"""

from __future__ import annotations

import base64
import binascii
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

GPGV_PACKAGE = "gpgv"


class SignatureError(ValueError):
    """The signature does not verify against the key (or the key cannot be read)."""


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def dearmor(armor: str) -> bytes:
    """The binary packets of an ASCII-armored OpenPGP block."""
    lines = [line.strip() for line in armor.strip().splitlines()]
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("-----BEGIN PGP "))
        end = next(i for i, line in enumerate(lines) if line.startswith("-----END PGP "))
    except StopIteration:
        raise SignatureError("not an ASCII-armored OpenPGP block") from None
    body = lines[start + 1 : end]
    # Armor headers ("Version: ...", "Comment: ...") end at the first blank line.
    if "" in body:
        body = body[body.index("") + 1 :]
    checksum = None
    if body and body[-1].startswith("="):
        checksum = body.pop()[1:]
    try:
        data = base64.b64decode("".join(body), validate=True)
    except binascii.Error as exc:
        raise SignatureError(f"armor is not base64: {exc}") from None
    if checksum is not None:
        try:
            expected = int.from_bytes(base64.b64decode(checksum), "big")
        except binascii.Error:
            raise SignatureError("armor checksum is not base64") from None
        if _crc24(data) != expected:
            raise SignatureError("armor checksum does not match")
    return data


@dataclass(frozen=True)
class GoodSignature:
    key_id: str  # long key id (16 hex) of the key that made the signature
    primary_fingerprint: str
    # OpenPGP public-key algorithm of that key (RFC 4880 section 9.1; 22 = EdDSA, i.e. ed25519),
    # VALIDSIG's pubkey-algo field (GnuPG doc/DETAILS).
    algorithm: int = 0

    def matches(self, key_id: str) -> bool:
        """True when ``key_id`` names the signing (sub)key or its primary key."""
        wanted = key_id.upper()
        return wanted in (self.key_id, self.primary_fingerprint[-16:])


def gpgv_binary() -> str:
    path = shutil.which("gpgv")
    if path is None:
        raise SignatureError(f"gpgv not found on PATH: apt-get install {GPGV_PACKAGE}")
    return path


def _gpgv(keyring: bytes, files: dict[str, bytes], args: list[str]) -> tuple[GoodSignature, bytes]:
    """Run gpgv in a fresh directory holding ``keyring`` and ``files``; the signature it reports
    as good and valid, and the contents of ``out`` when the arguments wrote it."""
    with tempfile.TemporaryDirectory(prefix="mirrors-gpgv-") as tmp:
        root = Path(tmp)
        (root / "keyring.gpg").write_bytes(keyring)
        for name, data in files.items():
            (root / name).write_bytes(data)
        proc = subprocess.run(
            [
                gpgv_binary(),
                "--homedir",
                str(root),
                "--status-fd",
                "1",
                "--keyring",
                str(root / "keyring.gpg"),
                *args,
            ],
            cwd=root,  # the file arguments are relative to the directory
            capture_output=True,
            text=True,
            check=False,
        )
        out = root / "out"
        written = out.read_bytes() if out.is_file() else b""
    status = [line.split() for line in proc.stdout.splitlines() if line.startswith("[GNUPG:] ")]
    good = next((s for s in status if s[1] == "GOODSIG"), None)
    valid = next((s for s in status if s[1] == "VALIDSIG"), None)
    if proc.returncode != 0 or good is None or valid is None:
        words = [s[1] for s in status if s[1] in ("BADSIG", "ERRSIG", "NO_PUBKEY", "NODATA")]
        raise SignatureError(", ".join(dict.fromkeys(words)) or f"gpgv exit {proc.returncode}")
    # VALIDSIG <fpr> <date> <timestamp> <expire> <version> <reserved> <pubkey-algo> ...
    algorithm = int(valid[8]) if len(valid) > 8 and valid[8].isdigit() else 0
    signature = GoodSignature(
        key_id=good[2].upper(), primary_fingerprint=valid[-1].upper(), algorithm=algorithm
    )
    return signature, written


def verify_detached(data: bytes, signature: bytes, ascii_armor: str) -> GoodSignature:
    """Verify ``signature`` over ``data`` with exactly the key in ``ascii_armor``."""
    files = {"data": data, "data.sig": signature}
    return _gpgv(dearmor(ascii_armor), files, ["data.sig", "data"])[0]


def keyring_bytes(data: bytes) -> bytes:
    """A keyring file as gpgv reads it: binary as ``gpg --export`` writes it, or ASCII armor
    (``gpg --armor --export``), decoded here."""
    if data.lstrip().startswith(b"-----BEGIN PGP "):
        return dearmor(data.decode("ascii", "replace"))
    return data


def verify_clearsigned(document: bytes, keyring: bytes) -> tuple[GoodSignature, bytes]:
    """Verify a clearsigned document against ``keyring`` (binary); the signer and the signed
    text exactly as gpgv recovered it (``--output``), never text outside the signed part."""
    return _gpgv(keyring, {"doc.asc": document}, ["--output", "out", "doc.asc"])
