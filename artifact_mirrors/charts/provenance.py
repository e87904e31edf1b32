"""A chart's provenance file (``.prov``), checked as ``helm verify`` checks it.

helm.sh/helm pkg/provenance (sign.go): ``helm package --sign`` writes an OpenPGP clearsigned
document whose signed text is the chart's ``Chart.yaml`` metadata as YAML, the YAML document end
marker ``...`` on its own line, then a YAML ``files:`` mapping of the archive's file name to
``sha256:HEX``. ``Verify`` checks the signature against a keyring, splits the signed text at
``\\n...\\n`` and requires the entry for the archive's base name to equal the archive's sha256.

Here the signature is checked with gpgv (:mod:`artifact_mirrors.gpg`), and the ``files:`` entry
is read from the text gpgv recovered, so nothing outside the signed part counts.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from artifact_mirrors.gpg import GoodSignature, verify_clearsigned

END_OF_METADATA = b"\n...\n"


class ProvenanceError(Exception):
    """The signed text does not vouch for the archive (``problem`` and what was found)."""

    def __init__(self, problem: str, got: str) -> None:
        super().__init__(f"{problem} (got {got})")
        self.problem = problem
        self.got = got


def signed_files(text: bytes) -> dict[str, str]:
    """The ``files:`` mapping of a provenance file's signed text."""
    parts = text.split(END_OF_METADATA)
    if len(parts) < 2:
        raise ProvenanceError("the signed text has no files: section after '...'", "none")
    try:
        doc: Any = YAML(typ="safe", pure=True).load(parts[1])
    except YAMLError as exc:
        raise ProvenanceError("the files: section is not YAML", exc.__class__.__name__) from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict):
        raise ProvenanceError("the signed text has no files: mapping", type(files).__name__)
    return {str(k): str(v) for k, v in files.items()}


def verify(prov: bytes, archive: str, sha256_hex: str, keyring: bytes) -> GoodSignature:
    """Check ``prov`` is signed by a key of ``keyring`` and vouches for the archive named
    ``archive`` (its base name) with sha256 ``sha256_hex``; the signer.

    Raises :class:`artifact_mirrors.gpg.SignatureError` (the signature) or
    :class:`ProvenanceError` (what it signs).
    """
    signer, text = verify_clearsigned(prov, keyring)
    files = signed_files(text)
    signed = files.get(archive)
    if signed is None:
        raise ProvenanceError(
            f"the signed text has no sha256 for {archive}", ", ".join(sorted(files)) or "none"
        )
    if signed != f"sha256:{sha256_hex}":
        raise ProvenanceError(f"the signed sha256 of {archive} is not the .tgz's", signed)
    return signer
