"""A stateful fake of the Docker Hub and quay.io metadata APIs on 127.0.0.1.

It follows the same request/response contracts as tests/providers/contracts/*.json (paths, auth
headers, JSON bodies, error shapes), so the real client and the real provider can run against it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeRepo:
    description: str = ""
    full_description: str = ""
    public: bool = True
    tags: set[str] = field(default_factory=set)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class FakeState:
    hub_username: str
    hub_token: str
    quay_token: str
    hub_jwt: str = "fake-hub-jwt"
    hub: dict[tuple[str, str], FakeRepo] = field(default_factory=dict)
    quay: dict[tuple[str, str], FakeRepo] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


_HUB_REPO = re.compile(r"^/v2/namespaces/([^/]+)/repositories/([^/]+)$")
_HUB_CREATE = re.compile(r"^/v2/namespaces/([^/]+)/repositories$")
_HUB_PATCH = re.compile(r"^/v2/repositories/([^/]+)/([^/]+)/$")
_HUB_TAG = re.compile(r"^/v2/repositories/([^/]+)/([^/]+)/tags/([^/]+)/$")
_QUAY_REPO = re.compile(r"^/api/v1/repository/([^/]+)/([^/]+)$")
_QUAY_TAG = re.compile(r"^/api/v1/repository/([^/]+)/([^/]+)/tag/([^/]+)$")


class _Handler(BaseHTTPRequestHandler):
    state: FakeState

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return None

    def _reply(self, status: int, body: Any = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        self.state.requests.append(
            RecordedRequest(self.command, self.path, dict(self.headers.items()), raw)
        )
        return json.loads(raw) if raw else None

    def _hub_authed(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.state.hub_jwt}"

    def _quay_authed(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.state.quay_token}"

    def _dispatch(self) -> None:
        body = self._body()
        with self.state.lock:
            if self.path.startswith("/v2/"):
                self._hub(body)
            elif self.path.startswith("/api/v1/"):
                self._quay(body)
            else:
                self._reply(404, {"message": "not found"})

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch

    # -- Docker Hub --------------------------------------------------------------------------
    def _hub(self, body: Any) -> None:
        s, path, method = self.state, self.path, self.command
        unauthorized = {"errinfo": None, "message": "unauthorized"}
        not_found = {"errinfo": None, "message": "not found"}
        if path == "/v2/auth/token" and method == "POST":
            if body == {"identifier": s.hub_username, "secret": s.hub_token}:
                return self._reply(200, {"access_token": s.hub_jwt})
            return self._reply(401, {"errinfo": None, "message": "incorrect username or password"})
        if (m := _HUB_REPO.match(path)) and method == "GET":
            repo = s.hub.get((m[1], m[2]))
            if repo is None or (not repo.public and not self._hub_authed()):
                return self._reply(404, not_found)
            return self._reply(200, _hub_json(m[1], m[2], repo))
        if not self._hub_authed():
            return self._reply(401, unauthorized)
        if (m := _HUB_CREATE.match(path)) and method == "POST":
            if (m[1], body["name"]) in s.hub:
                return self._reply(400, {"errinfo": None, "message": "repository already exists"})
            repo = FakeRepo(body["description"], body["full_description"], not body["is_private"])
            s.hub[(m[1], body["name"])] = repo
            return self._reply(201, _hub_json(m[1], body["name"], repo))
        if (m := _HUB_PATCH.match(path)) and method == "PATCH":
            repo = s.hub.get((m[1], m[2]))
            if repo is None:
                return self._reply(404, not_found)
            repo.description = body["description"]
            repo.full_description = body["full_description"]
            return self._reply(200, _hub_json(m[1], m[2], repo))
        if (m := _HUB_TAG.match(path)) and method == "DELETE":
            repo = s.hub.get((m[1], m[2]))
            if repo is None or m[3] not in repo.tags:
                return self._reply(404, not_found)
            repo.tags.discard(m[3])
            return self._reply(204)
        return self._reply(404, not_found)

    # -- quay.io -----------------------------------------------------------------------------
    def _quay(self, body: Any) -> None:
        s, path, method = self.state, self.path, self.command
        not_found = {"status": 404, "error_message": "Not Found", "detail": "Not Found"}
        if (m := _QUAY_REPO.match(path)) and method == "GET":
            repo = s.quay.get((m[1], m[2]))
            if repo is None or (not repo.public and not self._quay_authed()):
                return self._reply(404, not_found)
            return self._reply(200, _quay_json(m[1], m[2], repo))
        if not self._quay_authed():
            return self._reply(
                401, {"status": 401, "error_message": "Invalid OAuth token", "detail": "x"}
            )
        if path == "/api/v1/repository" and method == "POST":
            key = (body["namespace"], body["repository"])
            if key in s.quay:
                return self._reply(
                    400, {"status": 400, "error_message": "Repository already exists"}
                )
            assert body["repo_kind"] == "image"
            s.quay[key] = FakeRepo(body["description"], "", body["visibility"] == "public")
            return self._reply(201, {"namespace": key[0], "name": key[1], "kind": "image"})
        if (m := _QUAY_REPO.match(path)) and method == "PUT":
            repo = s.quay.get((m[1], m[2]))
            if repo is None:
                return self._reply(404, not_found)
            repo.description = body["description"]
            return self._reply(200, {"success": True})
        if (m := _QUAY_TAG.match(path)) and method == "DELETE":
            repo = s.quay.get((m[1], m[2]))
            if repo is None or m[3] not in repo.tags:
                return self._reply(404, not_found)
            repo.tags.discard(m[3])
            return self._reply(204)
        return self._reply(404, not_found)


def _hub_json(namespace: str, name: str, repo: FakeRepo) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "name": name,
        "description": repo.description,
        "full_description": repo.full_description,
        "is_private": not repo.public,
    }


def _quay_json(namespace: str, name: str, repo: FakeRepo) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "name": name,
        "kind": "image",
        "description": repo.description,
        "is_public": repo.public,
    }


@contextmanager
def fake_meta_server(state: FakeState) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1 (free port); yields the base URL; stops at exit."""
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
