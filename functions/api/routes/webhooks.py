"""`/v1/webhooks`: register, list, read, change and delete subscriptions."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from functions.api.context import Owner
from functions.api.docs import responses
from functions.api.params import Cursor, Limit
from functions.api.responses import json_response, no_content
from shared.outbound import deliveries, publishing, webhooks
from shared.schemas.requests import WebhookCreate, WebhookRecover, WebhookUpdate
from shared.schemas.responses import (
    DeliveryList,
    DeliveryStatus,
    RecoverOut,
    TestSendOut,
    WebhookList,
    WebhookOut,
    WebhookStatsOut,
)

router = Router()


@router.post("", responses=responses(201, WebhookOut, 403))
def create_webhook(owner: Owner, body: Annotated[WebhookCreate, Body()]) -> Response[str]:
    return json_response(201, webhooks.create(owner.user_id, body))


@router.get("", responses=responses(200, WebhookList, 403))
def list_webhooks(owner: Owner, limit: Limit = 20, cursor: Cursor = None) -> Response[str]:
    return json_response(200, webhooks.list_page(owner.user_id, limit, cursor))


@router.get("/<webhook_id>", responses=responses(200, WebhookOut, 403, 404))
def get_webhook(owner: Owner, webhook_id: str) -> Response[str]:
    return json_response(200, webhooks.get(owner.user_id, webhook_id))


@router.patch("/<webhook_id>", responses=responses(200, WebhookOut, 403, 404))
def update_webhook(
    owner: Owner, webhook_id: str, body: Annotated[WebhookUpdate, Body()]
) -> Response[str]:
    return json_response(200, webhooks.update(owner.user_id, webhook_id, body))


@router.delete("/<webhook_id>", responses=responses(204, None, 403, 404))
def delete_webhook(owner: Owner, webhook_id: str) -> Response[str]:
    webhooks.delete(owner.user_id, webhook_id)
    return no_content()


@router.post("/<webhook_id>/test", responses=responses(202, TestSendOut, 403, 404))
def test_webhook(owner: Owner, webhook_id: str) -> Response[str]:
    webhook = webhooks.get_record(owner.user_id, webhook_id)
    return json_response(202, publishing.test_event(owner.user_id, webhook))


@router.get("/<webhook_id>/deliveries", responses=responses(200, DeliveryList, 403, 404))
def list_webhook_deliveries(
    owner: Owner,
    webhook_id: str,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response[str]:
    return json_response(
        200, deliveries.list_for_webhook(owner.user_id, webhook_id, status, limit, cursor)
    )


@router.post("/<webhook_id>/recover", responses=responses(202, RecoverOut, 403, 404, 409))
def recover_webhook(
    owner: Owner, webhook_id: str, body: Annotated[WebhookRecover, Body()]
) -> Response[str]:
    until = body.until.timestamp() if body.until else None
    answer = deliveries.recover(owner.user_id, webhook_id, body.since.timestamp(), until)
    return json_response(202, answer)


@router.get("/<webhook_id>/stats", responses=responses(200, WebhookStatsOut, 403, 404))
def webhook_stats(
    owner: Owner,
    webhook_id: str,
    window: Annotated[Literal["1h", "24h", "7d"], Query()] = "24h",
) -> Response[str]:
    return json_response(200, deliveries.webhook_stats(owner.user_id, webhook_id, window))
