"""Operational events (README "Operational events"): the reserved user `_ops`."""

from __future__ import annotations

from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi


def test_no_api_key_is_ever_issued_for_the_ops_user(api: InProcessApi) -> None:
    for role in ("user", "admin"):
        reply = api.request(
            "POST", "/v1/admin/api-keys", ADMIN_KEY, {"user_id": "_ops", "role": role}
        )
        assert reply.status == 422, reply.body
        (detail,) = reply.json()["error"]["details"]
        assert detail["field"] == "body.user_id"
        assert "reserved" in detail["message"]
