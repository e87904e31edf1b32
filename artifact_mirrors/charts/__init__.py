"""Helm charts: an HTTP chart repository (or an OCI one) mirrored as Helm OCI artifacts.

No Pulumi imports here (the Pulumi layer is components/charts.py):

- :mod:`.source`: the HTTP chart repository (``index.yaml``, ``.tgz``, ``.prov``);
- :mod:`.artifact`: the OCI artifact Helm's ``pkg/registry`` pushes for a ``.tgz``, built
  deterministically (the created time comes from the index entry, not the clock);
- :mod:`.resolve`: `mirrors release add`'s half for charts;
- :mod:`.push`: blobs, the manifest by digest, then the tag (never moved), through the copy
  session that the image copies share.
"""
