"""A seam in SAM's local API Gateway (aws-sam-cli, pinned in requirements-dev.txt), for what it does
differently from the HTTP API it emulates.

A request body that is not UTF-8 (``\\xff…``, UTF-16) reaches an HTTP API's Lambda base64-encoded, with
``isBase64Encoded: true``: the function decides what to make of the bytes (ours answers 400
``INVALID_JSON``, or acknowledges a signed webhook). SAM's ``construct_v2_event_http`` decodes every body
not of a binary media type as UTF-8 and, when that fails, answers the client 502
``{"message": "Internal server error"}`` without calling the function. :func:`install` makes SAM hand
such a body over base64-encoded instead, as API Gateway does.
"""

from __future__ import annotations

from typing import Any

from samcli.local.apigw import local_apigw_service

_SAM_CONSTRUCT_V2_EVENT = local_apigw_service.construct_v2_event_http


def _construct_v2_event_http(flask_request: Any, port: Any, binary_types: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return _SAM_CONSTRUCT_V2_EVENT(flask_request, port, binary_types, **kwargs)
    except UnicodeDecodeError:
        # Not text: base64, as for a binary media type ("*/*" matches any request's type).
        return _SAM_CONSTRUCT_V2_EVENT(flask_request, port, ["*/*"], **kwargs)


def install() -> None:
    """Make this process's SAM local API Gateway hand non-UTF-8 bodies over base64-encoded (idempotent)."""
    local_apigw_service.construct_v2_event_http = _construct_v2_event_http
