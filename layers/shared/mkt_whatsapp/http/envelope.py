"""The api-v1 envelope every answer is wrapped in, success or error."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response, content_types

from mkt_whatsapp.core.errors import ApiError

if TYPE_CHECKING:
    from mkt_whatsapp.http.pagination import Pagination

JSON_HEADERS = {"Content-Type": content_types.APPLICATION_JSON}


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)


def envelope(data: Any, *, pagination: Pagination | None = None) -> dict[str, Any]:
    return {
        "success": True,
        "data": data,
        "error": None,
        "pagination": pagination.to_wire() if pagination else None,
    }


def error_envelope(error: ApiError) -> dict[str, Any]:
    return {
        "success": False,
        "data": None,
        "error": error.message,
        "details": {"field": error.field, "code": error.code},
        "pagination": None,
    }


def ok(data: Any, *, status: int = 200, pagination: Pagination | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=dumps(envelope(data, pagination=pagination)),
    )


def error_response(error: ApiError) -> Response[str]:
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=dumps(error_envelope(error)),
        headers=dict(error.headers),
    )
