"""HTTP API Lambda authorizer (simple responses): resolves the API key to a user and a role.

HTTP APIs answer a denied request with a bare 403 `{"message": "Forbidden"}`, which would break
our JSON errors (401 for a missing or bad key). So an unknown key is passed on with an
`auth_error` in the context and the API function answers the 401; it never acts without a user.
A key that could not be looked up (DynamoDB or Secrets Manager failing after its retries) is
passed on as `auth_unavailable`, answered 503 in the JSON error shape, never let through: an
authorizer that raised would get API Gateway's bare 500 instead.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.access.auth import authenticate
from shared.core.errors import Unauthorized
from shared.core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = event.get("headers") or {}
    try:
        principal = authenticate(headers)
    except Unauthorized as error:
        logger.info("request without a valid API key", extra={"reason": error.code})
        return {"isAuthorized": True, "context": {"auth_error": error.message}}
    except (BotoCoreError, ClientError) as error:  # AWS failed the lookup: a 503 from the API
        logger.error("API key lookup failed", extra={"error": type(error).__name__})
        return {"isAuthorized": True, "context": {"auth_unavailable": "1"}}
    logger.append_keys(user_id=principal.user_id, key_id=principal.key_id)
    return {
        "isAuthorized": True,
        "context": {
            "user_id": principal.user_id,
            "role": principal.role,
            "key_id": principal.key_id,
        },
    }
