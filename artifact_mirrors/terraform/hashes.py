"""The hashes Terraform records for a provider package.

``zh:`` is the sha256 of the zip file itself (hex). ``h1:`` is Go's module hash ``dirhash.Hash1``
over the files *inside* the zip, which Terraform computes with ``dirhash.HashZip`` in
``internal/getproviders/hash.go`` (PackageHashV1): for every entry name of the zip, sorted, the
line ``"<sha256 hex of its bytes>  <name>\\n"``; the h1 hash is ``"h1:"`` + base64 of the sha256 of
those lines (golang.org/x/mod ``sumdb/dirhash/hash.go``, Hash1 and HashZip). Like HashZip, every
entry counts, directories included, with the name exactly as stored in the zip.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


def sha256_file(fh: BinaryIO) -> str:
    h = hashlib.sha256()
    while chunk := fh.read(CHUNK):
        h.update(chunk)
    return h.hexdigest()


def h1_zip(path: Path | BinaryIO) -> str:
    """Terraform's ``h1:`` hash of a provider zip (see the module docstring)."""
    with zipfile.ZipFile(path) as z:
        names = sorted(info.filename for info in z.infolist())
        summary = hashlib.sha256()
        for name in names:
            if "\n" in name:
                raise ValueError(f"zip entry name with a newline: {name!r}")
            with z.open(name) as member:
                digest = sha256_file(member)  # type: ignore[arg-type]
            summary.update(f"{digest}  {name}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode("ascii")


def zh(sha256_hex: str) -> str:
    return f"zh:{sha256_hex}"
