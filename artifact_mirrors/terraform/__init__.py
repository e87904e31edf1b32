"""Terraform provider releases: the source registry, signatures, mirror layouts, copies.

No Pulumi imports here (the Pulumi layer is components/terraform.py):

- :mod:`.protocol`: the first-party registry, read through the Provider Registry Protocol
  (https://developer.hashicorp.com/terraform/internals/provider-registry-protocol);
- the detached signature of a ``.sums`` file is checked with Debian's ``gpgv``
  (:mod:`artifact_mirrors.gpg`, shared with the Helm provenance check);
- :mod:`.hashes`: ``zh:`` and ``h1:`` hashes as Terraform computes them;
- :mod:`.layout`: the objects of a static registry or a provider network mirror
  (https://developer.hashicorp.com/terraform/internals/provider-network-mirror-protocol);
- :mod:`.copy`: one file from the source into S3, streamed and sha256-checked;
- :mod:`.resolve`: `mirrors release add`'s half for providers;
- :mod:`.verify`: `mirrors verify`'s half for providers.
"""
