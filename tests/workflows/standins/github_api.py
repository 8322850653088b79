"""STAND-IN for GitHub's REST API (issues and their comments), served on 127.0.0.1 for workflow-step tests.

Implements what `tools.github_comment` and `tools.github_issues` call, in GitHub's shapes:
GET /repos/{owner}/{repo}/issues/{n}/comments (paginated by per_page and page), POST the same path,
PATCH /repos/{owner}/{repo}/issues/comments/{id}; GET /repos/{owner}/{repo}/issues?state=open (which,
as GitHub's does, lists pull requests too, marked by a `pull_request` key), POST /repos/{owner}/{repo}/issues,
PATCH /repos/{owner}/{repo}/issues/{n} (title, body, state, state_reason); and, for
tools.github_environments, GET/PUT /repos/{owner}/{repo}/environments/{name} (PUT answers 403 to the
workflow token, as GitHub does without administration), GET/POST
.../environments/{name}/deployment-branch-policies, DELETE .../deployment-branch-policies/{id} and
GET /orgs/{org}/teams/{slug}, in the shapes of GitHub's REST reference (protection_rules with
`required_reviewers` / `branch_policy`, `deployment_branch_policy` or null).
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
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    read_only: bool = False
    requests: list[tuple[str, str]] = field(default_factory=list)
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    branch_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=lambda: {"sre": 42, "platform": 41})
    _next_id: int = 1000

    def put_environment(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store an environment as GitHub shows it back."""
        rules: list[dict[str, Any]] = []
        if body.get("reviewers"):
            slugs = {team_id: slug for slug, team_id in self.teams.items()}
            reviewers = [{"type": r["type"], "reviewer": {"id": r["id"], "slug": slugs[r["id"]]}}
                         for r in body["reviewers"]]  # fmt: skip
            rules.append({"id": 1, "type": "required_reviewers", "reviewers": reviewers,
                          "prevent_self_review": bool(body.get("prevent_self_review"))})  # fmt: skip
        policy = body.get("deployment_branch_policy")
        if policy:
            rules.append({"id": 2, "type": "branch_policy"})
        self.environments[name] = {"name": name, "protection_rules": rules, "deployment_branch_policy": policy}
        return self.environments[name]

    def add(self, pr: int, body: str, login: str) -> dict[str, Any]:
        self._next_id += 1
        comment = {
            "id": self._next_id,
            "body": body,
            "user": {"login": login, "type": "Bot" if "[bot]" in login else "User"},
        }
        self.comments.setdefault(pr, []).append(comment)
        return comment

    def add_issue(self, title: str, body: str, login: str, *, pull_request: bool = False) -> dict[str, Any]:
        number = len(self.issues) + 1
        issue: dict[str, Any] = {"number": number, "title": title, "body": body, "state": "open",
                                 "user": {"login": login}}  # fmt: skip
        if pull_request:
            issue["pull_request"] = {"url": f"https://api.github.com/repos/o/r/pulls/{number}"}
        self.issues[number] = issue
        return issue

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
                if team := re.fullmatch(r"/orgs/[^/]+/teams/([^/]+)", url.path):
                    if team.group(1) in api.teams:
                        return self._reply(200, {"id": api.teams[team.group(1)], "slug": team.group(1)})
                    return self._reply(404, {"message": "Not Found"})
                if env := re.fullmatch(r"/repos/[^/]+/[^/]+/environments/([^/]+)(/deployment-branch-policies)?",
                                       url.path):  # fmt: skip
                    if env.group(1) not in api.environments:
                        return self._reply(404, {"message": "Not Found"})
                    if env.group(2):
                        listed = api.branch_policies.get(env.group(1), [])
                        return self._reply(200, {"total_count": len(listed), "branch_policies": listed})
                    return self._reply(200, api.environments[env.group(1)])
                match = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/(\d+)/comments", url.path)
                if not match and not re.fullmatch(r"/repos/[^/]+/[^/]+/issues", url.path):
                    return self._reply(404, {"message": "Not Found"})
                query = parse_qs(url.query)
                per_page, page = int(query.get("per_page", ["30"])[0]), int(query.get("page", ["1"])[0])
                if re.fullmatch(r"/repos/[^/]+/[^/]+/issues", url.path):
                    state = query.get("state", ["open"])[0]
                    listed = [i for i in api.issues.values() if state == "all" or i["state"] == state]
                    return self._reply(200, listed[(page - 1) * per_page : page * per_page])
                assert match is not None
                items = api.comments.get(int(match.group(1)), [])
                return self._reply(200, items[(page - 1) * per_page : page * per_page])

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length", "0"))
                loaded: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
                return loaded

            def do_PUT(self) -> None:
                api.requests.append(("PUT", self.path))
                env = re.fullmatch(r"/repos/[^/]+/[^/]+/environments/([^/]+)", self.path)
                if not env:
                    return self._reply(404, {"message": "Not Found"})
                if self._login() == "github-actions[bot]" or api.read_only:
                    return self._reply(403, {"message": "Resource not accessible by integration"})
                return self._reply(200, api.put_environment(env.group(1), self._body()))

            def do_DELETE(self) -> None:
                api.requests.append(("DELETE", self.path))
                env = re.fullmatch(
                    r"/repos/[^/]+/[^/]+/environments/([^/]+)/deployment-branch-policies/(\d+)", self.path
                )
                if not env or self._login() == "github-actions[bot]":
                    return self._reply(404, {"message": "Not Found"})
                listed = api.branch_policies.get(env.group(1), [])
                api.branch_policies[env.group(1)] = [p for p in listed if p["id"] != int(env.group(2))]
                self.send_response(204)
                self.end_headers()
                return None

            def do_POST(self) -> None:
                api.requests.append(("POST", self.path))
                if env := re.fullmatch(
                    r"/repos/[^/]+/[^/]+/environments/([^/]+)/deployment-branch-policies", self.path
                ):
                    if self._login() == "github-actions[bot]" or env.group(1) not in api.environments:
                        return self._reply(404, {"message": "Not Found"})
                    api._next_id += 1
                    body = self._body()
                    policy = {"id": api._next_id, "name": body["name"], "type": body.get("type", "branch")}
                    api.branch_policies.setdefault(env.group(1), []).append(policy)
                    return self._reply(200, policy)
                if re.fullmatch(r"/repos/[^/]+/[^/]+/issues", self.path):
                    body = self._body()
                    return self._reply(201, api.add_issue(body["title"], body["body"], self._login()))
                match = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/(\d+)/comments", self.path)
                if not match:
                    return self._reply(404, {"message": "Not Found"})
                if api.read_only:
                    return self._reply(403, {"message": "Resource not accessible by integration"})
                return self._reply(201, api.add(int(match.group(1)), self._body()["body"], self._login()))

            def do_PATCH(self) -> None:
                api.requests.append(("PATCH", self.path))
                issue = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/(\d+)", self.path)
                if issue and int(issue.group(1)) in api.issues:
                    api.issues[int(issue.group(1))].update(self._body())
                    return self._reply(200, api.issues[int(issue.group(1))])
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
