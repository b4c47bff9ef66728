"""`/v1/deliveries`: inspect one delivery with its attempt log, retry a failed one."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.api.context import Owner
from functions.api.docs import responses
from functions.api.responses import json_response
from shared.outbound import deliveries
from shared.schemas.responses import DeliveryDetail, RetryOut

router = Router()


@router.get("/<delivery_id>", responses=responses(200, DeliveryDetail, 403, 404))
def get_delivery(owner: Owner, delivery_id: str) -> Response[str]:
    return json_response(200, deliveries.get(owner.user_id, delivery_id))


@router.post("/<delivery_id>/retry", responses=responses(202, RetryOut, 403, 404, 409))
def retry_delivery(owner: Owner, delivery_id: str) -> Response[str]:
    return json_response(202, deliveries.retry(owner.user_id, delivery_id))
