"""`/v1/secret`: the user's `whcms_` signing secret, created on first use, and its rotation."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from functions.api.context import Owner
from functions.api.docs import responses
from functions.api.responses import json_response
from shared.outbound import operational_events
from shared.schemas.requests import RotateSecret
from shared.schemas.responses import RotatedSecretOut, SecretOut
from shared.store import secrets

router = Router()


@router.get("", responses=responses(200, SecretOut, 403))
def get_secret(owner: Owner) -> Response[str]:
    return json_response(200, secrets.get_or_create(owner.user_id).public_view())


@router.post("/rotate", responses=responses(200, RotatedSecretOut, 403, 409))
def rotate_secret(
    owner: Owner, body: Annotated[RotateSecret | None, Body()] = None
) -> Response[str]:
    grace = (body or RotateSecret()).grace_seconds
    rotated = operational_events.rotate_secret(owner.user_id, grace)  # + `secret.rotated`
    return json_response(
        200, {"secret": rotated.secret, "previous_expires_at": rotated.previous_expires_at}
    )
