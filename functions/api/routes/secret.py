"""`/v1/secret`: the caller's `whcms_` signing secret, created on first use, and its rotation."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from functions.api.context import principal
from functions.api.docs import responses
from functions.api.responses import json_response
from shared import secrets
from shared.models import RotateSecret
from shared.schemas import RotatedSecretOut, SecretOut

router = Router()


@router.get("", responses=responses(200, SecretOut))
def get_secret() -> Response[str]:
    caller = principal(router.current_event)
    return json_response(200, secrets.get_or_create(caller.user_id).public_view())


@router.post("/rotate", responses=responses(200, RotatedSecretOut))
def rotate_secret(body: Annotated[RotateSecret | None, Body()] = None) -> Response[str]:
    caller = principal(router.current_event)
    grace = (body or RotateSecret()).grace_seconds
    rotated = secrets.rotate(caller.user_id, grace)
    return json_response(
        200, {"secret": rotated.secret, "previous_expires_at": rotated.previous_expires_at}
    )
