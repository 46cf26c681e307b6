"""A WhatsApp Cloud (Graph) API simulator: answers like Meta, records what it receives.

Routes (any version segment, e.g. ``/v23.0``):
- ``GET /{version}/{phone-number-id}``: the number's details; needs a token that looks like Meta's
  (``EAA…``), else Meta's OAuth error 190. Non-numeric ids get Meta's error 100 (object does not exist).
- ``POST /{version}/{phone-number-id}/messages``: accepts a send, answers with a fresh ``wamid``.
- ``GET /{version}/{waba-id}/message_templates``: the WhatsApp Business Account's templates in Meta's shape,
  paged (``limit``, ``after``; at most ``template_page_size``, 3, a page, so a sync always pages), only the
  ``fields`` asked for. Every account starts with :data:`DEFAULT_TEMPLATES` (every template the README, the
  tests and the flow examples send, approved, and a few that are not).
- ``GET /_simulator/requests``: what it has received, an accepted send with the ``wamid`` it answered
  (``DELETE`` clears it).
- ``PUT /_simulator/phone-numbers/{id}``: set a number's details (``messagingLimit``, ``verifiedName``, …).
- ``POST /_simulator/faults``: the next ``count`` requests whose path contains ``match`` get ``status``/``body``
  (after ``delaySeconds``, to play a timeout).
- ``PUT /_simulator/latency``: answer every send ``seconds`` late, like Meta's round trip.
- ``POST /_simulator/templates/{waba-id}``: change one of the account's templates as Meta's review would
  (``name``, ``language`` and any of ``status``, ``qualityScore``, ``category``; a template it does not have
  is added, with ``components``) and post the webhooks Meta sends for it (:func:`template_webhook`), signed,
  to the webhook target (``PUT /_simulator/webhook-target`` ``{"url", "appSecret"}``; the local stack sets
  its own). Answers the webhook bodies.
- ``POST /_simulator/statuses``: what Meta does with the sends it accepted: post Meta's signed ``statuses``
  webhooks to the webhook target, one a send (:func:`status_webhook`), for every send it answered with a
  ``wamid`` (``to``: only those to these waIds; ``phoneNumberId``: only that number's): ``status`` is
  ``sent``, ``delivered``, ``read`` or ``failed`` (with ``errorCode``, 131026 unless told, and Meta's title).
  ``sent`` and ``delivered`` carry Meta's ``pricing``: a template is billed in its category as the account's
  catalogue has it (``marketing`` for one it does not know), anything else is free ``service``. Each names
  the account ``wabaId``, else the one the number was given (``PUT /_simulator/phone-numbers/{id}``), else
  :data:`DEFAULT_WABA_ID`. Answers the webhook bodies and where they went.

On its own: ``python -m local.graph_simulator --port 8002`` (the local stack and the tests start it in
process; the sender benchmark runs it as its own process, as Meta is).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.request
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

_NUMBER = re.compile(r"^/(v\d+\.\d+)/([^/]+)$")
_MESSAGES = re.compile(r"^/(v\d+\.\d+)/([^/]+)/messages$")
_TEMPLATES = re.compile(r"^/(v\d+\.\d+)/([^/]+)/message_templates$")

# The WhatsApp Business Account a number belongs to unless told: the one the README's sample webhook names
# (events/webhook-body-text.json's entry.id; local/devtools.DEV_WABA_ID).
DEFAULT_WABA_ID = "419561257915477"

STATUS_UPDATE = "message_template_status_update"
QUALITY_UPDATE = "message_template_quality_update"
CATEGORY_UPDATE = "template_category_update"


def _template(
    name: str,
    language: str,
    category: str,
    components: list[dict[str, Any]],
    status: str = "APPROVED",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "language": language,
        "status": status,
        "category": category,
        "components": components,
        "parameter_format": extra.pop("parameter_format", "POSITIONAL"),
        "quality_score": {"score": extra.pop("quality", "GREEN" if status == "APPROVED" else "UNKNOWN")},
        **extra,
    }


def _body(text: str, *examples: str) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "BODY", "text": text}
    if examples:
        body["example"] = {"body_text": [list(examples)]}
    return body


# What every WhatsApp Business Account of the simulator starts with, in Meta's shape. The approved templates
# without parameters are the ones the README, the tests and the examples send (order_update, flash_sale,
# promo, sale, welcome_offer); the others take parameters of every kind, or are not approved.
DEFAULT_TEMPLATES: tuple[dict[str, Any], ...] = (
    _template(
        "order_update",
        "vi",
        "UTILITY",
        [_body("Đơn hàng của bạn đã được cập nhật. Cảm ơn bạn đã mua sắm tại shop!")],
    ),
    _template(
        "order_update",
        "en_US",
        "UTILITY",
        [_body("Your order has been updated. Thank you for shopping with us!")],
    ),
    _template(
        "flash_sale",
        "vi",
        "MARKETING",
        [_body("Flash sale hôm nay: giảm đến 50% toàn bộ cửa hàng!"), {"type": "FOOTER", "text": "Nhắn STOP để hủy"}],
    ),
    _template("promo", "vi", "MARKETING", [_body("Ưu đãi mới đang chờ bạn tại shop!")]),
    _template("sale", "vi", "UTILITY", [_body("Đơn hàng giảm giá của bạn đã được xác nhận.")]),
    _template("welcome_offer", "vi", "MARKETING", [_body("Chào mừng bạn! Tặng bạn mã giảm giá 10% cho đơn đầu.")]),
    _template(
        "order_shipped",
        "vi",
        "UTILITY",
        [
            {"type": "HEADER", "format": "TEXT", "text": "Đơn {{1}}", "example": {"header_text": ["#1042"]}},
            _body("Chào {{1}}, đơn {{2}} đã được giao cho {{3}}.", "An", "#1042", "GHN"),
            {"type": "FOOTER", "text": "Cảm ơn bạn đã mua sắm"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {
                        "type": "URL",
                        "text": "Theo dõi đơn",
                        "url": "https://shop.example/track/{{1}}",
                        "example": ["https://shop.example/track/1042"],
                    },
                    {"type": "PHONE_NUMBER", "text": "Gọi shop", "phone_number": "+84901234567"},
                ],
            },
        ],
    ),
    _template(
        "spring_sale",
        "vi",
        "MARKETING",
        [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1hZ2U="]}},
            _body("{{1}} ơi, mùa xuân giảm {{2}} cho mọi đơn hàng!", "An", "20%"),
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "Xem ưu đãi"},
                    {"type": "QUICK_REPLY", "text": "Dừng khuyến mãi"},
                ],
            },
        ],
    ),
    _template(
        "order_confirmation",
        "en_US",
        "UTILITY",
        [
            {
                "type": "BODY",
                "text": "Hi {{first_name}}, your order {{order_id}} is confirmed.",
                "example": {
                    "body_text_named_params": [
                        {"param_name": "first_name", "example": "An"},
                        {"param_name": "order_id", "example": "#1042"},
                    ]
                },
            }
        ],
        parameter_format="NAMED",
    ),
    _template(
        "login_code",
        "en_US",
        "AUTHENTICATION",
        [
            _body("*{{1}}* is your verification code.", "123456"),
            {
                "type": "BUTTONS",
                "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}],
            },
        ],
    ),
    _template("summer_promo", "vi", "MARKETING", [_body("Hè rực rỡ, ưu đãi ngập tràn!")], status="PENDING"),
    _template(
        "old_offer",
        "vi",
        "MARKETING",
        [_body("Ưu đãi cũ.")],
        status="REJECTED",
        rejected_reason="PROMOTIONAL",
    ),
)


def template_id(waba_id: str, name: str, language: str) -> str:
    """A stable id for a template of an account (Meta's are 15–16 digits)."""
    return str(1_000_000_000_000_000 + zlib.crc32(f"{waba_id}:{name}:{language}".encode()))


def template_webhook(
    waba_id: str, field: str, template: dict[str, Any], *, at: int | None = None, **change: Any
) -> dict[str, Any]:
    """The webhook Meta posts when a template changes, in Meta's shape: ``field`` is
    ``message_template_status_update`` (``change``: ``event``, ``reason``), ``message_template_quality_update``
    (``previous_quality_score``, ``new_quality_score``) or ``template_category_update`` (``previous_category``,
    ``new_category``); ``template`` names it (``name``, ``language``, ``id``, ``category``). ``at``: the entry's
    ``time`` (now)."""
    named = {
        "message_template_id": int(template.get("id") or template_id(waba_id, template["name"], template["language"])),
        "message_template_name": template["name"],
        "message_template_language": template["language"],
    }
    if field == STATUS_UPDATE:
        value = {
            "event": change.get("event", template.get("status")),
            **named,
            "reason": change.get("reason", "NONE"),
            "message_template_category": template.get("category"),
        }
    else:
        value = {**named, **change}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "time": int(time.time()) if at is None else at,
                "changes": [{"field": field, "value": value}],
            }
        ],
    }


# The statuses Meta reports of a message the business sent, and Meta's titles of the errors a message fails with
# (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/).
MESSAGE_STATUSES = ("sent", "delivered", "read", "failed")
PRICED_STATUSES = ("sent", "delivered")
UNDELIVERABLE = 131026
META_ERROR_TITLES: dict[int, str] = {
    131000: "Something went wrong",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on "
    "WhatsApp from your business.",
}
ERROR_CODES_PAGE = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


def meta_pricing(template_category: str | None) -> dict[str, Any]:
    """Meta's ``pricing`` of a message (per-message pricing): a template is billed in its category, anything
    else is a free service message (it can only go inside the customer service window)."""
    if template_category is None:
        return {"billable": False, "pricing_model": "PMP", "category": "service", "type": "free_customer_service"}
    return {"billable": True, "pricing_model": "PMP", "category": template_category.lower(), "type": "regular"}


def meta_status_error(code: int) -> dict[str, Any]:
    """One of a ``failed`` status's ``errors``, in Meta's shape."""
    title = META_ERROR_TITLES.get(code, f"Error {code}")
    return {"code": code, "title": title, "message": title, "error_data": {"details": title}, "href": ERROR_CODES_PAGE}


def status_webhook(
    waba_id: str, phone_number_id: str, display_phone_number: str, status: dict[str, Any]
) -> dict[str, Any]:
    """The webhook Meta posts for one status of a message the number sent, in Meta's shape: ``status`` is the
    ``statuses[]`` entry (``id``: the wamid, ``status``, ``timestamp``, ``recipient_id``, and ``pricing`` or
    ``errors`` as Meta adds them)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": display_phone_number,
                                "phone_number_id": phone_number_id,
                            },
                            "statuses": [status],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def _display_phone_number(phone_number_id: str, custom: dict[str, Any]) -> str:
    """How the number shows (``displayPhoneNumber`` when set), as its details give it."""
    return str(custom.get("displayPhoneNumber", f"+1 555-{phone_number_id[-4:]:0>4}"))


def _json(status: int, payload: Any) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def meta_error(
    status: int, code: int, message: str, error_type: str = "OAuthException", subcode: int | None = None
) -> Response:
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code, "fbtrace_id": uuid.uuid4().hex[:22]}
    if subcode is not None:
        error["error_subcode"] = subcode
    return _json(status, {"error": error})


def new_wamid() -> str:
    return "wamid." + base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes[:8]).decode().rstrip("=")


@dataclass
class Fault:
    match: str
    status: int
    body: Any
    count: int
    delay_seconds: float = 0.0  # answer this late (a timeout, for a client with a shorter one)


@dataclass
class SimulatorState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    latency_seconds: float = 0.0  # every send answered this late, as Meta's round trip would be
    templates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by WhatsApp Business Account id
    template_page_size: int = 3
    webhook_url: str = ""  # where template changes are posted (the local stack's webhooks), signed with:
    app_secret: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def templates_of(self, waba_id: str) -> list[dict[str, Any]]:
        """The account's templates (the defaults, each with its id, until changed); call with the lock held."""
        if waba_id not in self.templates:
            self.templates[waba_id] = [
                {**copy.deepcopy(entry), "id": template_id(waba_id, entry["name"], entry["language"])}
                for entry in DEFAULT_TEMPLATES
            ]
        return self.templates[waba_id]


class GraphSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SimulatorState()
        self._server: BaseWSGIServer = make_server(host, port, self.wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="graph-simulator", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def start(self) -> GraphSimulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- WSGI ------------------------------------------------------------------------------------------

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        """The simulator as a WSGI application (its server's; the local stack's port serves its controls)."""
        request = Request(environ)
        return self._handle(request)(environ, start_response)

    def _handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_simulator/"):
            return self._control(request, path.removeprefix("/_simulator/"))
        body_text = request.get_data(as_text=True)
        record = {
            "at": time.time(),
            "method": request.method,
            "path": path,
            "query": dict(request.args),
            "authorization": request.headers.get("Authorization", ""),
            "body": json.loads(body_text) if body_text.strip().startswith(("{", "[")) else body_text,
        }
        with self.state.lock:
            self.state.requests.append(record)
            fault = next((f for f in self.state.faults if f.match in path and f.count > 0), None)
            if fault:
                fault.count -= 1
        if fault:
            if fault.delay_seconds:
                time.sleep(fault.delay_seconds)
            return _json(fault.status, fault.body)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token.startswith("EAA"):
            return meta_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if (match := _MESSAGES.match(path)) and request.method == "POST":
            if self.state.latency_seconds:
                time.sleep(self.state.latency_seconds)
            return self._send(match.group(2), body_text, record)
        if (match := _TEMPLATES.match(path)) and request.method == "GET":
            return self._message_templates(match.group(2), request)
        if (match := _NUMBER.match(path)) and request.method == "GET":
            return self._phone_number(match.group(2))
        return meta_error(400, 100, f"Unknown path components: {path}", "GraphMethodException", 33)

    def _phone_number(self, phone_number_id: str) -> Response:
        if not phone_number_id.isdigit():
            return meta_error(
                400,
                100,
                f"Unsupported get request. Object with ID '{phone_number_id}' does not "
                "exist, cannot be loaded due to missing permissions, or does not support this "
                "operation.",
                "GraphMethodException",
                33,
            )
        with self.state.lock:
            custom = dict(self.state.numbers.get(phone_number_id, {}))
        return _json(
            200,
            {
                "id": phone_number_id,
                "display_phone_number": _display_phone_number(phone_number_id, custom),
                "verified_name": custom.get("verifiedName", "Local Test Shop"),
                "quality_rating": custom.get("qualityRating", "GREEN"),
                "whatsapp_business_manager_messaging_limit": custom.get("messagingLimit", "TIER_2K"),
            },
        )

    def _message_templates(self, waba_id: str, request: Request) -> Response:
        if not waba_id.isdigit():
            return meta_error(
                400,
                100,
                f"Unsupported get request. Object with ID '{waba_id}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation.",
                "GraphMethodException",
                33,
            )
        try:
            limit = int(request.args.get("limit", "25"))
            start = int(base64.b64decode(request.args.get("after", "")).decode() or 0)
        except ValueError:
            return meta_error(400, 100, "(#100) Invalid parameter")
        wanted = [name for name in request.args.get("fields", "").split(",") if name]
        with self.state.lock:
            templates = copy.deepcopy(self.state.templates_of(waba_id))
            size = max(1, min(limit, self.state.template_page_size))
        page = templates[start : start + size]
        data = [{k: v for k, v in entry.items() if not wanted or k in wanted or k == "id"} for entry in page]
        cursor = base64.b64encode(str(start + len(page)).encode()).decode()
        paging: dict[str, Any] = {
            "cursors": {"before": base64.b64encode(str(start).encode()).decode(), "after": cursor}
        }
        if start + size < len(templates):
            paging["next"] = f"{request.base_url}?limit={size}&after={cursor}"
        return _json(200, {"data": data, "paging": paging})

    def change_template(self, waba_id: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
        """Change (or add) one of the account's templates as Meta's review would, and post the webhooks Meta
        sends for what changed to the webhook target (when set): returns their bodies."""
        name, language = str(spec["name"]), str(spec["language"])
        with self.state.lock:
            templates = self.state.templates_of(waba_id)
            found = next((t for t in templates if t["name"] == name and t["language"] == language), None)
            if found is None:
                found = _template(name, language, str(spec.get("category", "MARKETING")), spec.get("components", []))
                found.update(status="PENDING", id=template_id(waba_id, name, language))
                templates.append(found)
            bodies = []
            if spec.get("status"):
                found["status"] = str(spec["status"])
                bodies.append(
                    template_webhook(
                        waba_id, STATUS_UPDATE, found, event=found["status"], reason=spec.get("reason", "NONE")
                    )
                )
            if spec.get("qualityScore"):
                previous = (found.get("quality_score") or {}).get("score", "UNKNOWN")
                found["quality_score"] = {"score": str(spec["qualityScore"])}
                bodies.append(
                    template_webhook(
                        waba_id,
                        QUALITY_UPDATE,
                        found,
                        previous_quality_score=previous,
                        new_quality_score=found["quality_score"]["score"],
                    )
                )
            if spec.get("category"):
                previous = found.get("category")
                found["category"] = str(spec["category"])
                bodies.append(
                    template_webhook(
                        waba_id, CATEGORY_UPDATE, found, previous_category=previous, new_category=found["category"]
                    )
                )
            target, secret = self.state.webhook_url, self.state.app_secret
        if target:
            for body in bodies:
                post_signed_webhook(target, body, secret)
        return bodies

    def status_webhooks(
        self,
        status: str,
        *,
        to: list[str] | None = None,
        phone_number_id: str = "",
        waba_id: str = "",
        error_code: int | None = None,
    ) -> list[dict[str, Any]]:
        """Meta's webhooks for ``status`` of each send it accepted (``to``: only those to these waIds;
        ``phone_number_id``: only that number's), one a send, in the order they were sent."""
        if status not in MESSAGE_STATUSES:
            raise ValueError(f"status is one of {', '.join(MESSAGE_STATUSES)}, not {status!r}")
        wanted = {wa_id.lstrip("+") for wa_id in to} if to else None
        now = str(int(time.time()))
        bodies = []
        with self.state.lock:
            for record in self.state.requests:
                match = _MESSAGES.match(record["path"])
                body = record["body"]
                if not record.get("wamid") or match is None or not isinstance(body, dict):
                    continue
                number, recipient = match.group(2), str(body.get("to", "")).lstrip("+")
                if (phone_number_id and number != phone_number_id) or (wanted is not None and recipient not in wanted):
                    continue
                custom = self.state.numbers.get(number, {})
                account = waba_id or str(custom.get("wabaId") or DEFAULT_WABA_ID)
                entry: dict[str, Any] = {
                    "id": record["wamid"],
                    "status": status,
                    "timestamp": now,
                    "recipient_id": recipient,
                }
                if status in PRICED_STATUSES:
                    entry["pricing"] = meta_pricing(self._category_of(account, body))
                if status == "failed":
                    entry["errors"] = [meta_status_error(UNDELIVERABLE if error_code is None else error_code)]
                display = re.sub(r"\D", "", _display_phone_number(number, custom))
                bodies.append(status_webhook(account, number, display, entry))
        return bodies

    def _category_of(self, waba_id: str, send: dict[str, Any]) -> str | None:
        """The category Meta bills a send in: a template's as the account's catalogue has it (``MARKETING``
        for one it does not know, as Meta bills a template it cannot place); None for anything else (call
        with the lock held)."""
        if send.get("type") != "template":
            return None
        template = send.get("template") or {}
        language = template.get("language")
        code = language.get("code") if isinstance(language, dict) else language
        found = next(
            (
                entry
                for entry in self.state.templates_of(waba_id)
                if entry["name"] == template.get("name") and entry["language"] == code
            ),
            None,
        )
        return str(found["category"]) if found else "MARKETING"

    def post_statuses(self, spec: dict[str, Any]) -> Response:
        """``POST /_simulator/statuses``: post the webhooks of :meth:`status_webhooks` to the webhook target,
        signed; answers them and where they went (``postedTo``: null without a target)."""
        to = spec.get("to")
        if isinstance(to, str):
            to = [to]
        if to is not None and (not isinstance(to, list) or not all(isinstance(wa_id, str) for wa_id in to)):
            return _json(400, {"error": "to is a list of waIds"})
        code = spec.get("errorCode")
        if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
            return _json(400, {"error": "errorCode is Meta's error code, a number"})
        try:
            bodies = self.status_webhooks(
                str(spec.get("status", "")),
                to=to,
                phone_number_id=str(spec.get("phoneNumberId") or ""),
                waba_id=str(spec.get("wabaId") or ""),
                error_code=code,
            )
        except ValueError as error:
            return _json(400, {"error": str(error)})
        with self.state.lock:
            target, secret = self.state.webhook_url, self.state.app_secret
        if not target:
            return _json(200, {"webhooks": bodies, "postedTo": None})
        for posted, body in enumerate(bodies):
            try:
                post_signed_webhook(target, body, secret)
            except OSError as error:  # urllib's HTTPError (the target refused it) and URLError are OSErrors
                message = f"the webhook target {target} did not take a status webhook: {error}"
                return _json(502, {"error": message, "webhooks": bodies[:posted], "postedTo": target})
        return _json(200, {"webhooks": bodies, "postedTo": target})

    def _send(self, phone_number_id: str, body_text: str, record: dict[str, Any]) -> Response:
        """Accept a send with a fresh wamid, kept on the request's ``record`` (``wamid``: what a test posts
        Meta's statuses for)."""
        try:
            body = json.loads(body_text)
        except ValueError:
            return meta_error(400, 100, "Invalid parameter", "OAuthException")
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return meta_error(400, 100, "(#100) The parameter messaging_product is required.")
        if body.get("status") == "read":  # mark-as-read
            return _json(200, {"success": True})
        recipient = str(body.get("to", ""))
        if not recipient:
            return meta_error(400, 100, "(#100) The parameter to is required.")
        wamid = new_wamid()
        with self.state.lock:
            record["wamid"] = wamid
        return _json(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": recipient, "wa_id": recipient.lstrip("+")}],
                "messages": [{"id": wamid}],
            },
        )

    def _control(self, request: Request, action: str) -> Response:
        with self.state.lock:
            if action == "requests":
                if request.method == "DELETE":
                    self.state.requests.clear()
                    return _json(200, {"cleared": True})
                return _json(200, {"requests": list(self.state.requests)})
            if action == "latency" and request.method == "PUT":
                self.state.latency_seconds = float((request.get_json(force=True) or {}).get("seconds", 0))
                return _json(200, {"latencySeconds": self.state.latency_seconds})
            if action.startswith("phone-numbers/") and request.method == "PUT":
                number = action.removeprefix("phone-numbers/")
                self.state.numbers[number] = dict(request.get_json(force=True) or {})
                return _json(200, {"id": number, **self.state.numbers[number]})
            if action == "faults" and request.method == "POST":
                spec = request.get_json(force=True) or {}
                self.state.faults.append(
                    Fault(
                        match=str(spec.get("match", "")),
                        status=int(spec.get("status", 500)),
                        body=spec.get("body", {}),
                        count=int(spec.get("count", 1)),
                        delay_seconds=float(spec.get("delaySeconds", 0)),
                    )
                )
                return _json(200, {"queued": True})
            if action == "faults" and request.method == "DELETE":
                self.state.faults.clear()
                return _json(200, {"cleared": True})
            if action == "webhook-target" and request.method == "PUT":
                spec = request.get_json(force=True) or {}
                self.state.webhook_url = str(spec.get("url", ""))
                self.state.app_secret = str(spec.get("appSecret", ""))
                return _json(200, {"url": self.state.webhook_url})
        if action == "statuses" and request.method == "POST":
            return self.post_statuses(request.get_json(force=True, silent=True) or {})
        if action.startswith("templates/") and request.method == "POST":
            spec = request.get_json(force=True) or {}
            if not spec.get("name") or not spec.get("language"):
                return _json(400, {"error": "name and language are required"})
            return _json(200, {"webhooks": self.change_template(action.removeprefix("templates/"), spec)})
        return _json(404, {"error": f"unknown simulator action {action}"})


def post_signed_webhook(url: str, body: dict[str, Any], app_secret: str) -> int:
    """POST a webhook body to ``url`` as Meta does: its raw bytes signed with the app secret
    (``X-Hub-Signature-256``); the answer's status."""
    raw = json.dumps(body, ensure_ascii=True).encode()
    signature = "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        url, data=raw, method="POST", headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(answer.status)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import contextlib
    import logging

    parser = argparse.ArgumentParser(description="The WhatsApp Cloud API simulator on its own.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    simulator = GraphSimulator(args.host, args.port)
    print(f"Graph API simulator on {simulator.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        simulator._server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
