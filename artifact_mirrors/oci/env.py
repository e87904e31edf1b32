"""Environment knobs shared by every caller of the OCI engine (CLI, Pulumi provider, releases)."""

from __future__ import annotations

import os

# Plain-HTTP registries, comma separated host:port (the local demo and tests run first-party
# stand-ins on 127.0.0.1). Never on by default: TLS is verified everywhere else.
INSECURE_ENV = "MIRRORS_INSECURE_REGISTRIES"


def insecure_registries() -> list[str]:
    return [h.strip() for h in os.environ.get(INSECURE_ENV, "").split(",") if h.strip()]
