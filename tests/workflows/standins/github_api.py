"""STAND-IN for GitHub's REST API (issue comments), served on 127.0.0.1 for workflow-step tests.

Implements what `tools.github_comment` calls, in GitHub's shapes: GET /repos/{owner}/{repo}/issues/{n}/comments
(paginated by per_page and page), POST the same path, PATCH /repos/{owner}/{repo}/issues/comments/{id}.
A comment's author is `github-actions[bot]` for the workflow token and the token's name otherwise;
`read_only` answers writes with 403, as GitHub does for a fork's pull_request token.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

WORKFLOW_TOKEN = "workflow-token"


@dataclass
class FakeGitHub:
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    read_only: bool = False
    requests: list[tuple[str, str]] = field(default_factory=list)
    _next_id: int = 1000

    def add(self, pr: int, body: str, login: str) -> dict[str, Any]:
        self._next_id += 1
        comment = {
            "id": self._next_id,
            "body": body,
            "user": {"login": login, "type": "Bot" if "[bot]" in login else "User"},
        }
        self.comments.setdefault(pr, []).append(comment)
        return comment

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                return

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _login(self) -> str:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                return "github-actions[bot]" if token == WORKFLOW_TOKEN else token

            def do_GET(self) -> None:
                url = urlparse(self.path)
                api.requests.append(("GET", url.path))
                match = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/(\d+)/comments", url.path)
                if not match:
                    return self._reply(404, {"message": "Not Found"})
                query = parse_qs(url.query)
                per_page, page = int(query.get("per_page", ["30"])[0]), int(query.get("page", ["1"])[0])
                items = api.comments.get(int(match.group(1)), [])
                return self._reply(200, items[(page - 1) * per_page : page * per_page])

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length", "0"))
                loaded: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
                return loaded

            def do_POST(self) -> None:
                api.requests.append(("POST", self.path))
                match = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/(\d+)/comments", self.path)
                if not match:
                    return self._reply(404, {"message": "Not Found"})
                if api.read_only:
                    return self._reply(403, {"message": "Resource not accessible by integration"})
                return self._reply(201, api.add(int(match.group(1)), self._body()["body"], self._login()))

            def do_PATCH(self) -> None:
                api.requests.append(("PATCH", self.path))
                match = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/comments/(\d+)", self.path)
                if not match:
                    return self._reply(404, {"message": "Not Found"})
                if api.read_only:
                    return self._reply(403, {"message": "Resource not accessible by integration"})
                for comment in (c for cs in api.comments.values() for c in cs):
                    if comment["id"] == int(match.group(1)):
                        comment["body"] = self._body()["body"]
                        return self._reply(200, comment)
                return self._reply(404, {"message": "Not Found"})

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}"
