"""`Webhooks`: one method per operation of the HTTP API, over a `requests.Session`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast
from urllib.parse import quote

import requests

from webhooks_client._types import (
    ApiKey,
    Delivery,
    DeliveryPage,
    Event,
    EventPage,
    EventType,
    PortalSession,
    Published,
    Secret,
    Source,
    Stats,
    Webhook,
    WebhookPage,
)


class ApiError(Exception):
    """The service answered with an error: its HTTP status, `code`, `message` and `details`."""

    def __init__(self, status: int, code: str, message: str, details: list[Any] | None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


def _segment(value: str) -> str:
    return quote(value, safe="")


def _every(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    """The items of every page `fetch(cursor)` answers, until a page has no `next_cursor`."""
    cursor = None
    while True:
        page = fetch(cursor)
        yield from page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class Webhooks:
    """A client for one deployment, authenticated by an API key (or a portal session token).
    `publish_url`: where to publish instead of `base_url`, a deployment's publish function URL
    (stack output `PublishUrl`, README "Deploying to AWS")."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        user_id: str | None = None,
        publish_url: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.publish_url = (publish_url or base_url).rstrip("/")
        self.timeout = timeout
        self._session = session or requests.Session()
        self._api_key = api_key
        self._user_id = user_id

    def for_user(self, user_id: str) -> Webhooks:
        """The same client acting for `user_id` (an admin key's `?user_id=` on every call)."""
        return Webhooks(
            self.base_url,
            self._api_key,
            timeout=self.timeout,
            session=self._session,
            user_id=user_id,
            publish_url=self.publish_url,
        )

    # ------------------------------------------------------------------ transport

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        as_user: bool = True,
        base_url: str | None = None,
    ) -> Any:
        query = _clean(params or {})
        if as_user and self._user_id is not None:
            query["user_id"] = self._user_id
        response = self._session.request(
            method,
            f"{base_url or self.base_url}{path}",
            json=body,
            params=query or None,
            headers={"Authorization": f"Bearer {self._api_key}"},
            timeout=self.timeout,
        )
        if response.status_code == 204:
            return None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 400:
            error = (answer or {}).get("error", {}) if isinstance(answer, dict) else {}
            raise ApiError(
                response.status_code,
                str(error.get("code", "http_error")),
                str(error.get("message", response.reason)),
                error.get("details"),
            )
        return answer

    # ------------------------------------------------------------------ webhooks

    def create_webhook(
        self,
        url: str,
        events: list[str],
        *,
        description: str = "",
        active: bool = True,
        filter: str | None = None,
        retry: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Webhook:
        body = _clean(
            {
                "url": url,
                "events": events,
                "description": description,
                "active": active,
                "filter": filter,
                "retry": retry,
                "headers": headers,
            }
        )
        return cast(Webhook, self._call("POST", "/v1/webhooks", body=body))

    def list_webhooks(self, *, limit: int | None = None, cursor: str | None = None) -> WebhookPage:
        params = {"limit": limit, "cursor": cursor}
        return cast(WebhookPage, self._call("GET", "/v1/webhooks", params=params))

    def iter_webhooks(self) -> Iterator[Webhook]:
        """Every webhook, following the cursor page after page."""
        return cast(Iterator[Webhook], _every(lambda c: self.list_webhooks(limit=100, cursor=c)))

    def get_webhook(self, webhook_id: str) -> Webhook:
        return cast(Webhook, self._call("GET", f"/v1/webhooks/{_segment(webhook_id)}"))

    def update_webhook(self, webhook_id: str, **changes: Any) -> Webhook:
        """PATCH: only the fields given change (`filter=None` removes the filter)."""
        path = f"/v1/webhooks/{_segment(webhook_id)}"
        return cast(Webhook, self._call("PATCH", path, body=changes))

    def delete_webhook(self, webhook_id: str) -> None:
        self._call("DELETE", f"/v1/webhooks/{_segment(webhook_id)}")

    def test_webhook(self, webhook_id: str) -> dict[str, str]:
        path = f"/v1/webhooks/{_segment(webhook_id)}/test"
        return cast(dict[str, str], self._call("POST", path))

    def recover_webhook(self, webhook_id: str, since: str, until: str | None = None) -> int:
        """Queues again the failed and skipped deliveries created in the window; how many."""
        path = f"/v1/webhooks/{_segment(webhook_id)}/recover"
        answer = self._call("POST", path, body=_clean({"since": since, "until": until}))
        return int(answer["recovering"])

    def webhook_stats(self, webhook_id: str, window: str = "24h") -> Stats:
        path = f"/v1/webhooks/{_segment(webhook_id)}/stats"
        return cast(Stats, self._call("GET", path, params={"window": window}))

    def list_deliveries(
        self,
        webhook_id: str,
        *,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> DeliveryPage:
        path = f"/v1/webhooks/{_segment(webhook_id)}/deliveries"
        params = {"status": status, "limit": limit, "cursor": cursor}
        return cast(DeliveryPage, self._call("GET", path, params=params))

    def iter_deliveries(self, webhook_id: str, *, status: str | None = None) -> Iterator[Delivery]:
        """Every delivery of a webhook from its first attempt on (README "Delivery semantics"),
        newest first, following the cursor to its end: a page filtered by `status` may come back
        short, even empty, before the list is done."""

        def page(cursor: str | None) -> DeliveryPage:
            return self.list_deliveries(webhook_id, status=status, limit=100, cursor=cursor)

        return cast(Iterator[Delivery], _every(page))

    # ------------------------------------------------------------------ signing secret

    def get_secret(self) -> Secret:
        return cast(Secret, self._call("GET", "/v1/secret"))

    def rotate_secret(self, grace_seconds: int = 86400) -> Secret:
        body = {"grace_seconds": grace_seconds}
        return cast(Secret, self._call("POST", "/v1/secret/rotate", body=body))

    # ------------------------------------------------------------------ events

    def publish(self, type: str, data: dict[str, Any], *, id: str | None = None) -> Published:
        """Publishes one event; `id` makes a repeat of the same call a no-op (`duplicate`)."""
        body = _clean({"type": type, "data": data, "id": id})
        answer = self._call("POST", "/v1/events", body=body, base_url=self.publish_url)
        return cast(Published, answer)

    def publish_batch(self, events: list[dict[str, Any]]) -> list[Published]:
        body = {"events": events}
        answer = self._call("POST", "/v1/events/batch", body=body, base_url=self.publish_url)
        return cast(list[Published], answer["data"])

    def list_events(
        self,
        *,
        direction: str | None = None,
        type: str | None = None,
        source_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> EventPage:
        params = {
            "direction": direction,
            "type": type,
            "source_id": source_id,
            "limit": limit,
            "cursor": cursor,
        }
        return cast(EventPage, self._call("GET", "/v1/events", params=params))

    def iter_events(
        self,
        *,
        direction: str | None = None,
        type: str | None = None,
        source_id: str | None = None,
    ) -> Iterator[Event]:
        """Every event matching the filters, newest first, following the cursor to its end: a
        filtered page may come back short, even empty, before the list is done."""

        def page(cursor: str | None) -> EventPage:
            return self.list_events(
                direction=direction, type=type, source_id=source_id, limit=100, cursor=cursor
            )

        return cast(Iterator[Event], _every(page))

    def get_event(self, event_id: str) -> Event:
        return cast(Event, self._call("GET", f"/v1/events/{_segment(event_id)}"))

    def replay_event(self, event_id: str, *, webhook_id: str | None = None) -> dict[str, Any]:
        path = f"/v1/events/{_segment(event_id)}/replay"
        body = _clean({"webhook_id": webhook_id})
        return cast(dict[str, Any], self._call("POST", path, body=body))

    # ------------------------------------------------------------------ deliveries

    def get_delivery(self, delivery_id: str) -> Delivery:
        return cast(Delivery, self._call("GET", f"/v1/deliveries/{_segment(delivery_id)}"))

    def retry_delivery(self, delivery_id: str) -> dict[str, str]:
        path = f"/v1/deliveries/{_segment(delivery_id)}/retry"
        return cast(dict[str, str], self._call("POST", path))

    # ------------------------------------------------------------------ inbound sources

    def create_source(self, name: str, provider: str, secret: str, **options: Any) -> Source:
        body = {"name": name, "provider": provider, "secret": secret, **options}
        return cast(Source, self._call("POST", "/v1/sources", body=body))

    def list_sources(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        params = {"limit": limit, "cursor": cursor}
        return cast(dict[str, Any], self._call("GET", "/v1/sources", params=params))

    def get_source(self, source_id: str) -> Source:
        return cast(Source, self._call("GET", f"/v1/sources/{_segment(source_id)}"))

    def update_source(self, source_id: str, **changes: Any) -> Source:
        path = f"/v1/sources/{_segment(source_id)}"
        return cast(Source, self._call("PATCH", path, body=changes))

    def delete_source(self, source_id: str) -> None:
        self._call("DELETE", f"/v1/sources/{_segment(source_id)}")

    # ------------------------------------------------------------------ event type catalog

    def put_event_type(
        self, type: str, *, description: str = "", schema: dict[str, Any] | None = None
    ) -> EventType:
        """Admin: adds or replaces an event type (and its JSON Schema)."""
        body = _clean({"description": description, "schema": schema})
        path = f"/v1/admin/event-types/{_segment(type)}"
        return cast(EventType, self._call("PUT", path, body=body, as_user=False))

    def delete_event_type(self, type: str) -> None:
        path = f"/v1/admin/event-types/{_segment(type)}"
        self._call("DELETE", path, as_user=False)

    def list_event_types(self) -> list[EventType]:
        return cast(list[EventType], self._call("GET", "/v1/event-types")["data"])

    def get_event_type(self, type: str) -> EventType:
        return cast(EventType, self._call("GET", f"/v1/event-types/{_segment(type)}"))

    # ------------------------------------------------------------------ portal and admin

    def create_portal_session(
        self, user_id: str | None = None, *, ttl_seconds: int | None = None
    ) -> PortalSession:
        """A portal link for `user_id` (admin key) or for the key's own user (no argument)."""
        body = _clean({"user_id": user_id, "ttl_seconds": ttl_seconds})
        return cast(
            PortalSession, self._call("POST", "/v1/portal/sessions", body=body, as_user=False)
        )

    def end_portal_session(self) -> None:
        """Sign out: with a portal session token as the key, the session ends (403 otherwise)."""
        self._call("DELETE", "/v1/portal/sessions/current", as_user=False)

    def create_api_key(self, user_id: str, *, role: str = "user") -> ApiKey:
        body = {"user_id": user_id, "role": role}
        return cast(ApiKey, self._call("POST", "/v1/admin/api-keys", body=body, as_user=False))

    def revoke_api_key(self, key_id: str) -> None:
        path = f"/v1/admin/api-keys/{_segment(key_id)}"
        self._call("DELETE", path, as_user=False)

    def peek_dlq(self, queue: str = "delivery") -> list[dict[str, Any]]:
        answer = self._call("GET", "/v1/admin/dlq", params={"queue": queue}, as_user=False)
        return cast(list[dict[str, Any]], answer["data"])

    def redrive_dlq(self, queue: str, message_ids: list[str] | None = None) -> dict[str, Any]:
        body = _clean({"queue": queue, "message_ids": message_ids})
        return cast(
            dict[str, Any], self._call("POST", "/v1/admin/dlq/redrive", body=body, as_user=False)
        )
