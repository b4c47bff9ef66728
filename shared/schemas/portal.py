"""Request and response models of `POST /v1/portal/sessions` (README "Consumer portal").

Kept apart from requests.py/responses.py so the portal's models sit together."""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictInt, field_validator

from shared.core.ids import OPS_USER_ID
from shared.core.patterns import USER_ID_RULE, is_valid_user_id
from shared.schemas.requests import StrictModel

PORTAL_TTL_DEFAULT = 3600  # seconds: an hour


class PortalSessionCreate(StrictModel):
    user_id: str | None = Field(
        default=None,
        description="Admin key only: the user whose portal this is. A user key leaves it out "
        "(or names itself).",
    )
    ttl_seconds: StrictInt = Field(default=PORTAL_TTL_DEFAULT, ge=60, le=86400)

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not is_valid_user_id(value):
            raise ValueError(USER_ID_RULE)
        if value == OPS_USER_ID:
            raise ValueError(f"{OPS_USER_ID} is reserved for operational events: it has no portal")
        return value


class PortalSessionOut(BaseModel):
    token: str = Field(description="`wps_...`: send as `Authorization: Bearer`; shown once.")
    url: str = Field(description="The portal page with the token in its fragment.")
    expires_at: str
