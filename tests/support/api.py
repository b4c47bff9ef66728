"""Call the API in-process through the local gateway, as API Gateway would route the request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from infra.local.gateway import Gateway, HttpResponse


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class InProcessApi:
    def __init__(self) -> None:
        self.gateway = Gateway()

    def request(
        self,
        method: str,
        path: str,
        key: str | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"content-type": "application/json", **(headers or {})}
        if key:
            sent["x-api-key"] = key
        raw = (
            body
            if body is not None
            else (b"" if json_body is None else json.dumps(json_body).encode())
        )
        response: HttpResponse = self.gateway.handle(method, path, sent, raw)
        return Reply(response.status, response.headers, response.body)

    def new_user_key(self, admin_key: str, user_id: str, role: str = "user") -> str:
        reply = self.request(
            "POST", "/v1/admin/api-keys", admin_key, {"user_id": user_id, "role": role}
        )
        assert reply.status == 201, reply.body
        return str(reply.json()["api_key"])
