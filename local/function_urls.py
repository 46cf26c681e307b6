"""Lambda function URLs on the local API's port, beside SAM's local API Gateway.

A function with ``FunctionUrlConfig`` gets a host of its own in AWS (``https://<url-id>.lambda-url.<region>.on.aws/``)
and every path of that host reaches it. The local stack has one port, so a function URL is served at the
path a template output gives it: ``!Sub "${WebhooksFunctionUrl.FunctionUrl}api/v1/whatsapp/webhooks"``
(output ``WebhookUrl``) serves ``/api/v1/whatsapp/webhooks`` with WebhooksFunction's URL. ``WebhooksFunctionUrl``
is the ``AWS::Lambda::Url`` SAM generates for ``WebhooksFunction`` (``<function>Url``).

A request to such a path never reaches SAM's router: :class:`FunctionUrls` (a WSGI layer in front of it)
builds the event Lambda builds for a function URL — the HTTP API payload format 2.0 with ``routeKey`` and
``stage`` ``$default``, no ``pathParameters``, lowercase headers, a ``lambda-url`` domain, and a body
that is base64-encoded unless it is text (:func:`should_base64_encode`) — runs the handler in-process and
answers what it returns, as a function URL does (a payload 2.0 response). Every other path goes on to
SAM's local API Gateway (HTTP API events) as before.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from local import template as tpl
from local import terminal
from local.lambdas import FunctionError, LocalLambdas

log = logging.getLogger("local.function_urls")
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
# Content types Lambda hands a function URL's handler as text; any other body arrives base64-encoded.
_TEXT_TYPES = ("application/json", "application/javascript", "application/xml", "application/yaml")
_URL_SUFFIX = ".FunctionUrl}"


def mounts(template: dict[str, Any] | None = None) -> dict[str, str]:
    """``{path: function logical id}``: the path each template output gives a function URL."""
    template = template or tpl.load()
    functions = tpl.functions(template)
    found: dict[str, str] = {}
    for output in (template.get("Outputs") or {}).values():
        value = output.get("Value")
        text = value.get("Fn::Sub") if isinstance(value, dict) else None
        if not isinstance(text, str) or not text.startswith("${") or _URL_SUFFIX not in text:
            continue
        url_resource, rest = text[2:].split(_URL_SUFFIX, 1)
        function = url_resource.removesuffix("Url")
        resource = tpl.resources(template).get(function, {})
        if function in functions and "FunctionUrlConfig" in resource.get("Properties", {}):
            found["/" + rest.lstrip("/")] = function
    return found


def url_id(function: str) -> str:
    """A stand-in for the URL id AWS generates (32 lowercase letters and digits)."""
    return (function.lower() + "0" * 32)[:32]


def should_base64_encode(content_type: str | None, body: bytes) -> bool:
    """A function URL hands text bodies over as they are, anything else (or text that is not UTF-8)
    base64-encoded."""
    if not body:
        return False
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    textual = mimetype.startswith("text/") or mimetype in _TEXT_TYPES or mimetype.endswith(("+json", "+xml"))
    if not textual:
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def function_url_event(
    function: str,
    method: str,
    raw_path: str,
    *,
    raw_query: str = "",
    headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    body: bytes = b"",
    source_ip: str = "127.0.0.1",
    now: datetime | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The event Lambda gives ``function``'s handler for a request to its function URL (AuthType NONE)."""
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    domain = f"{url_id(function)}.lambda-url.{REGION}.on.aws"
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in pairs:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    joined["host"] = domain
    joined.setdefault("x-forwarded-proto", "https")
    joined.setdefault("x-forwarded-port", "443")
    joined.setdefault("x-forwarded-for", source_ip)
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    moment = now or datetime.now(UTC)
    encode = should_base64_encode(joined.get("content-type"), body)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": url_id(function),
            "domainName": domain,
            "domainPrefix": url_id(function),
            "http": {
                "method": method.upper(),
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": request_id or str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(moment.timestamp() * 1000),
        },
        "isBase64Encoded": encode,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = base64.b64encode(body).decode() if encode else body.decode("utf-8")
    return event


def _response(result: Any) -> Response:
    """A function URL's reading of the handler's answer (payload 2.0: no statusCode means the result is
    the JSON body of a 200)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return Response(json.dumps(result), status=200, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = Headers([(str(k), str(v)) for k, v in (result.get("headers") or {}).items()])
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", str(cookie))
    return Response(data, status=int(result["statusCode"]), headers=headers)


class FunctionUrls:
    """WSGI: a request to a function URL's path runs its function; every other request goes to ``app``."""

    def __init__(self, app: Callable[..., Any], lambdas: LocalLambdas, paths: Mapping[str, str]) -> None:
        self.app = app
        self.lambdas = lambdas
        self.paths = {path.rstrip("/") or "/": function for path, function in paths.items()}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO") or "/"
        function = self.paths.get(path.rstrip("/") or "/")
        if function is None:
            return self.app(environ, start_response)
        request = Request(environ)
        started = time.monotonic()
        event = function_url_event(
            function,
            request.method,
            request.path,
            raw_query=request.query_string.decode("latin-1"),
            headers=list(request.headers.items()),
            body=request.get_data(),
            source_ip=request.remote_addr or "127.0.0.1",
        )
        try:
            response = _response(self.lambdas.invoke(function, event))
        except FunctionError as failure:
            from local.apigw_seams import function_failed

            log.error("%s", failure)
            response = function_failed()
        terminal.report_request(event, response.status_code, started)
        return response(environ, start_response)


def install(app: Any, lambdas: LocalLambdas, paths: Mapping[str, str] | None = None) -> None:
    """Serve the template's function URLs (:func:`mounts`) in front of the Flask ``app`` SAM built."""
    app.wsgi_app = FunctionUrls(app.wsgi_app, lambdas, mounts() if paths is None else paths)
