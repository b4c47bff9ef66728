"""`/v1/webhooks`: register, list, read, change and delete subscriptions."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from functions.api.context import acting_user, principal
from functions.api.docs import responses
from functions.api.params import Cursor, Limit, UserId
from functions.api.responses import json_response, no_content
from shared import deliveries, publishing, webhooks
from shared.models import WebhookCreate, WebhookUpdate
from shared.schemas import DeliveryList, TestSendOut, WebhookList, WebhookOut

router = Router()


@router.post("", responses=responses(201, WebhookOut))
def create_webhook(body: Annotated[WebhookCreate, Body()]) -> Response[str]:
    caller = principal(router.current_event)
    return json_response(201, webhooks.create(caller.user_id, body))


@router.get("", responses=responses(200, WebhookList, 403))
def list_webhooks(
    limit: Limit = 20, cursor: Cursor = None, user_id: UserId = None
) -> Response[str]:
    owner = acting_user(principal(router.current_event), user_id)
    return json_response(200, webhooks.list_page(owner, limit, cursor))


@router.get("/<webhook_id>", responses=responses(200, WebhookOut, 404))
def get_webhook(webhook_id: str) -> Response[str]:
    caller = principal(router.current_event)
    return json_response(200, webhooks.get(caller.user_id, webhook_id))


@router.patch("/<webhook_id>", responses=responses(200, WebhookOut, 404))
def update_webhook(webhook_id: str, body: Annotated[WebhookUpdate, Body()]) -> Response[str]:
    caller = principal(router.current_event)
    return json_response(200, webhooks.update(caller.user_id, webhook_id, body))


@router.delete("/<webhook_id>", responses=responses(204, None, 404))
def delete_webhook(webhook_id: str) -> Response[str]:
    caller = principal(router.current_event)
    webhooks.delete(caller.user_id, webhook_id)
    return no_content()


@router.post("/<webhook_id>/test", responses=responses(202, TestSendOut, 404))
def test_webhook(webhook_id: str) -> Response[str]:
    caller = principal(router.current_event)
    webhook = webhooks.get_record(caller.user_id, webhook_id)
    return json_response(202, publishing.test_event(caller.user_id, webhook))


@router.get("/<webhook_id>/deliveries", responses=responses(200, DeliveryList, 403, 404))
def list_webhook_deliveries(
    webhook_id: str,
    status: Annotated[Literal["queued", "retrying", "succeeded", "failed"] | None, Query()] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    user_id: UserId = None,
) -> Response[str]:
    owner = acting_user(principal(router.current_event), user_id)
    return json_response(200, deliveries.list_for_webhook(owner, webhook_id, status, limit, cursor))
