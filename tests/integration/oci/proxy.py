"""A small threaded HTTP proxy on 127.0.0.1 that injects registry faults.

It forwards to one upstream registry, keeping the Host header so the registry's Location URLs point
back at the proxy. Rules match (method, path regex) and answer with a status (and headers/body) or
reset the connection, for the first N matching requests.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
}


@dataclass
class Rule:
    method: str | None
    path: re.Pattern[str]
    status: int | None  # None: reset the connection
    times: int | None  # None: forever
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hits: int = 0


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.rules: list[Rule] = []
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status or 0 for reset)
        self.extra_headers: dict[str, str] = {}  # added to every forwarded response
        # Bearer-token emulation (Docker Hub / quay style): None = off, else (user, password).
        self.token_auth: tuple[str, str] | None = None
        self.token_requests: list[list[str]] = []  # scopes asked for, per token request
        self._tokens: dict[str, set[str]] = {}  # token -> granted "repo:action" pairs
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=upstream, timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _handle(self) -> None:
                body = self._body()
                if proxy.token_auth is not None:
                    denied = proxy._check_token(self)
                    if denied is not None:
                        status, headers, content = denied
                        proxy._record(self.command, self.path, status)
                        self._reply(status, headers, content)
                        return
                rule = proxy._match(self.command, self.path)
                if rule is not None and rule.status is None:
                    proxy._record(self.command, self.path, 0)
                    # RST instead of FIN: the client sees "connection reset by peer".
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    self.connection.close()
                    return
                if rule is not None:
                    status, headers, content = rule.status or 500, rule.headers, rule.body
                else:
                    fwd = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                    resp = proxy._http.request(
                        self.command, self.path, headers=fwd, content=body or None
                    )
                    status, content = resp.status_code, resp.content
                    headers = {k: v for k, v in resp.headers.items() if k.lower() not in HOP}
                    headers.update(proxy.extra_headers)
                    if self.command == "HEAD":
                        headers["Content-Length"] = resp.headers.get("Content-Length", "0")
                proxy._record(self.command, self.path, status)
                self._reply(status, headers, content)

            def _reply(self, status: int, headers: dict[str, str], content: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _check_token(self, req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes] | None:
        """Token endpoint plus scope enforcement; None lets the request through."""
        url = httpx.URL(req.path)
        assert self.token_auth is not None
        if url.path == "/token":
            scopes = url.params.get_list("scope")
            with self._lock:
                self.token_requests.append(scopes)
            user = None
            auth = req.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                if (user, password) != self.token_auth:
                    return 401, {}, b'{"details":"incorrect username or password"}'
            granted = set()
            for sc in scopes:
                _, repo, actions = sc.split(":")
                for action in actions.split(","):
                    if action == "pull" or user is not None:
                        granted.add(f"{repo}:{action}")
            token = secrets.token_hex(8)
            with self._lock:
                self._tokens[token] = granted
            doc = {"token": token, "expires_in": 300}
            return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()
        if url.path == "/v2/":
            return None
        match = re.match(r"/v2/(.+?)/(manifests|blobs|tags|referrers)/", url.path)
        if match is None:
            return None
        repo = match.group(1)
        needed = {f"{repo}:{'pull' if req.command in ('GET', 'HEAD') else 'push'}"}
        if url.params.get("from"):
            needed.add(f"{url.params['from']}:pull")
        auth = req.headers.get("Authorization", "")
        with self._lock:
            granted = self._tokens.get(auth[7:], set()) if auth.startswith("Bearer ") else set()
        if needed <= granted:
            return None
        action = "pull" if req.command in ("GET", "HEAD") else "pull,push"
        realm = f'Bearer realm="http://{self.host}/token",service="test-proxy",'
        challenge = realm + f'scope="repository:{repo}:{action}"'
        body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "token needed"}]})
        return (
            401,
            {"WWW-Authenticate": challenge, "Content-Type": "application/json"},
            (body.encode()),
        )

    def _match(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.method not in (None, method) or not rule.path.search(path):
                    continue
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                rule.hits += 1
                return rule
        return None

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))

    def fail(
        self,
        method: str | None,
        path: str,
        status: int | None,
        *,
        times: int | None = 1,
        code: str | None = None,
        message: str = "",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Rule:
        hdrs = dict(headers or {})
        if code:
            body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
            hdrs["Content-Type"] = "application/json"
        rule = Rule(method, re.compile(path), status, times, hdrs, body)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.requests.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._http.close()
