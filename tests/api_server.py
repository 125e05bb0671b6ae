"""A local HTTP server standing in for a source's REST API in tests: recorded pages per path,
answered in order (the last one repeats), every request (a POST with its body) and every
connection remembered."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Page:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    method: str = "GET"
    body: str = ""


class ApiServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Page]] = {}
        self.requests: list[Seen] = []
        self.connections = 0  # TCP connections accepted, whether or not a request followed
        self.lock = threading.Lock()
        self.url = ""

    def add(self, path: str, *pages: Page) -> None:
        """Answer GET or POST `path` (query string ignored unless part of `path`) with these
        pages."""
        self.routes[path] = list(pages)

    def json(self, path: str, body: Any, status: int = 200) -> None:
        self.add(path, Page(status, body))

    def answer(self, raw_path: str) -> Page:
        with self.lock:
            parts = urlsplit(raw_path)
            for key in (raw_path, parts.path):
                pages = self.routes.get(key)
                if pages:
                    return pages.pop(0) if len(pages) > 1 else pages[0]
            return Page(404, {"message": "not found"})

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]


@contextmanager
def api_server() -> Iterator[ApiServer]:
    api = ApiServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            seen = Seen(parts.path, parse_qs(parts.query), dict(self.headers), self.command, body)
            with api.lock:
                api.requests.append(seen)
            page = api.answer(self.path)
            answer = json.dumps(page.body).encode()
            self.send_response(page.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            for name, value in page.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer)

        do_POST = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def verify_request(self, request: Any, client_address: Any) -> bool:
            with api.lock:
                api.connections += 1
            return True

    server = Server(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
