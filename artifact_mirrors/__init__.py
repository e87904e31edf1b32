"""artifact-mirrors: release-artifact mirroring as code (library layer, no Pulumi imports)."""

__version__ = "0.1.0"
