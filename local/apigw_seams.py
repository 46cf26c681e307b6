"""Seams in SAM's local API Gateway (aws-sam-cli, pinned in requirements-dev.txt), for what it does
differently from the HTTP API it emulates, or from what this service answers.

1. **Bodies that are not UTF-8.** A request body that is not UTF-8 (``\\xff…``, UTF-16) reaches an HTTP
   API's Lambda base64-encoded, with ``isBase64Encoded: true``: the function decides what to make of the
   bytes (ours answers 400 ``INVALID_JSON``, or acknowledges a signed webhook). SAM's
   ``construct_v2_event_http`` decodes every body not of a binary media type as UTF-8 and, when that fails,
   answers 502 without calling the function. :func:`install` makes SAM hand such a body over
   base64-encoded instead, as API Gateway does.
2. **SAM's own answers in the api-v1 envelope.** Where SAM answers without calling a function it says
   ``{"message": "…"}``: a method its router does not know (``FOO``, ``TRACE``: 403 "Missing
   Authentication Token"), a function that failed (502 "Internal server error"). A client of the local
   stack gets the service's envelope instead: an unknown method is 405 ``METHOD_NOT_ALLOWED`` with
   ``Allow`` (or 404 ``ROUTE_NOT_FOUND``) from the same code the catch-all function answers with
   (``http.resolver.not_found_or_wrong_method``), and a function failure is 502 ``FUNCTION_FAILED`` — a
   bug, which the tests and the fuzzer hold at zero. Deployed, API Gateway answers unknown methods itself.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from samcli.local.apigw import local_apigw_service
from samcli.local.apigw.service_error_responses import ServiceErrorResponses

_SAM_CONSTRUCT_V2_EVENT = local_apigw_service.construct_v2_event_http


def _construct_v2_event_http(flask_request: Any, port: Any, binary_types: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return _SAM_CONSTRUCT_V2_EVENT(flask_request, port, binary_types, **kwargs)
    except UnicodeDecodeError:
        # Not text: base64, as for a binary media type ("*/*" matches any request's type).
        return _SAM_CONSTRUCT_V2_EVENT(flask_request, port, ["*/*"], **kwargs)


def _answer(error: Any) -> Response:
    from mkt_whatsapp.http.envelope import JSON_HEADERS, dumps, error_envelope

    return Response(
        dumps(error_envelope(error)),
        status=error.status,
        headers={**JSON_HEADERS, **error.headers},
    )


def _route_not_found(*_args: Any) -> Response:
    from mkt_whatsapp.http.resolver import not_found_or_wrong_method

    return _answer(not_found_or_wrong_method(request.path, request.method.upper()))


def function_failed(*_args: Any) -> Response:
    from mkt_whatsapp.core.errors import ApiError

    class FunctionFailed(ApiError):
        status = 502
        default_code = "FUNCTION_FAILED"

    return _answer(FunctionFailed("The function failed; see the local stack's output"))


def install() -> None:
    """Patch this process's SAM local API Gateway as the module says (idempotent; before ``create()``)."""
    local_apigw_service.construct_v2_event_http = _construct_v2_event_http
    ServiceErrorResponses.route_not_found = staticmethod(_route_not_found)  # type: ignore[method-assign]
    ServiceErrorResponses.lambda_failure_response = staticmethod(function_failed)  # type: ignore[method-assign]
    ServiceErrorResponses.lambda_body_failure_response = staticmethod(function_failed)  # type: ignore[method-assign]
