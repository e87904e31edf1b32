"""What a docker-registry served and stored, read from its access log (tests and bench/).

The access log is the registry's own record, so it counts the same way whatever client talks to
it (ours or skopeo): blob bytes served by GET, blob uploads committed (PUT ...?digest= -> 201),
cross-repository mounts (POST ...?mount= -> 201) and requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from tests.integration.oci.servers import RegistryServer

_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.1" (?P<status>\d{3}) (?P<size>\d+)')


@dataclass(frozen=True)
class Traffic:
    requests: int
    blob_bytes_served: int  # GET /v2/<repo>/blobs/<digest> -> 200, body bytes
    blob_digests_served: tuple[str, ...]  # one entry per blob GET
    committed: tuple[str, ...]  # digests of blob uploads committed
    mounted: int


def traffic(server: RegistryServer, since: int = 0) -> tuple[Traffic, int]:
    """The registry's traffic after log offset ``since``; returns it and the new offset."""
    text = server.log.read_bytes()
    served = 0
    digests: list[str] = []
    committed: list[str] = []
    mounted = requests = 0
    for line in text[since:].decode(errors="replace").splitlines():
        m = _LINE.search(line)
        if m is None:
            continue
        requests += 1
        method, path, status = m["method"], m["path"], int(m["status"])
        url = urlsplit(path)
        query = parse_qs(url.query)
        if method == "GET" and status == 200 and "/blobs/sha256:" in url.path:
            served += int(m["size"])
            digests.append(url.path.rsplit("/", 1)[1])
        elif method == "PUT" and status == 201 and "/blobs/uploads/" in url.path:
            committed.append(unquote(query.get("digest", [""])[0]))
        elif method == "POST" and status == 201 and "mount" in query:
            mounted += 1
    return Traffic(requests, served, tuple(digests), tuple(committed), mounted), len(text)
