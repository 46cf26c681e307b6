"""Developer helpers for the local stack: mint a dev JWT, sign a webhook body like Meta does, post a
customer's text message (``say``, optionally as written from a click-to-WhatsApp ad) or reply-button press
(``press``) now, signed, as Meta would deliver it, post Meta's webhooks for a change of a message template
(``template-event``: its status, quality or category), have the Graph simulator post Meta's statuses of the
messages it accepted (``statuses``: delivered, read, failed), and create and activate a flow file for a shop,
its placeholders substituted (``flow``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from local import defaults
from local.graph_simulator import (
    CATEGORY_UPDATE,
    DEFAULT_WABA_ID,
    QUALITY_UPDATE,
    STATUS_UPDATE,
    template_webhook,
)
from local.lambdas import ensure_layer_on_path

# The README's first session: its shop and the number it connects (what ``say``, ``press`` and ``flow`` use
# unless told otherwise).
DEV_SHOP = "shop-1"
DEV_PHONE_NUMBER_ID = "106540352242922"
# The WhatsApp Business Account the README's sample webhook names (events/webhook-body-text.json, entry.id):
# the first session's shop learns it from that webhook, and every customer message ``say`` and ``press`` post
# names it, as the statuses the Graph simulator posts do (a shop connected with it learns no other).
DEV_WABA_ID = DEFAULT_WABA_ID
DEFAULT_API = "http://127.0.0.1:3000/api/v1/whatsapp"
# Where the Graph simulator's controls are: the local stack serves its own simulator's on its port.
DEFAULT_GRAPH = "http://127.0.0.1:3000"


def mint_token(
    shop_ids: list[str], subject: str = "dev-agent", ttl_seconds: int = 12 * 3600, secret: str | None = None
) -> str:
    import jwt

    now = int(time.time())
    claims = {"sub": subject, "shop_ids": shop_ids, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret or defaults.value("JWT_SECRET"), algorithm="HS256")


def customer_delivery(message: dict[str, Any], phone_number_id: str, customer: str, name: str) -> bytes:
    """A Meta delivery of one message from ``customer`` to ``phone_number_id`` (of the README's WhatsApp
    Business Account), sent now: ``message`` is its type and content (``{"type": "text", "text": {...}}``);
    the sender, id and timestamp are added."""
    message = {
        "from": customer,
        "id": f"wamid.LOCAL.{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
        **message,
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": name}, "wa_id": customer}],
        "messages": [message],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": DEV_WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload).encode()


def ad_referral(source_id: str) -> dict[str, Any]:
    """The ``referral`` Meta adds to a customer's first message from a click-to-WhatsApp ad whose id is
    ``source_id`` (shaped like Meta's example: what an ``ad_referral`` flow trigger reads)."""
    return {
        "source_url": f"https://fb.me/local-ad-{source_id}",
        "source_id": source_id,
        "source_type": "ad",
        "headline": "Chat with us",
        "body": "Local test ad",
        "ctwa_clid": f"local-ctwa-{uuid.uuid4().hex}",
    }


def customer_text_delivery(
    text: str, phone_number_id: str, customer: str, name: str, referral: dict[str, Any] | None = None
) -> bytes:
    """A Meta delivery of one text message from ``customer`` to ``phone_number_id``, sent now (with
    ``referral``, as written from an ad)."""
    message: dict[str, Any] = {"type": "text", "text": {"body": text}}
    if referral is not None:
        message["referral"] = referral
    return customer_delivery(message, phone_number_id, customer, name)


def button_press_delivery(button_id: str, title: str, phone_number_id: str, customer: str, name: str) -> bytes:
    """A Meta delivery of ``customer`` pressing the reply button ``button_id`` (titled ``title``), now."""
    reply = {"id": button_id, "title": title or button_id}
    message = {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": reply}}
    return customer_delivery(message, phone_number_id, customer, name)


def post_signed(api: str, body: bytes, secret: str | None = None) -> str:
    """POST a webhook body to the stack's ``/webhooks``, signed with ``secret`` (the local app secret);
    returns the answer's body."""
    import httpx

    ensure_layer_on_path()
    from mkt_whatsapp.whatsapp.signature import sign as sign_body

    signature = sign_body(body, secret or defaults.value("META_APP_SECRET"))
    reply = httpx.post(
        f"{api.rstrip('/')}/webhooks",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
        timeout=10,
    )
    return reply.text


def post_customer_text(
    api: str,
    text: str,
    phone_number_id: str,
    customer: str,
    name: str,
    secret: str | None = None,
    referral: dict[str, Any] | None = None,
) -> str:
    return post_signed(api, customer_text_delivery(text, phone_number_id, customer, name, referral), secret)


def post_button_press(
    api: str, button_id: str, title: str, phone_number_id: str, customer: str, name: str, secret: str | None = None
) -> str:
    return post_signed(api, button_press_delivery(button_id, title, phone_number_id, customer, name), secret)


def template_event_deliveries(
    waba_id: str, name: str, language: str, *, status: str = "", quality: str = "", category: str = ""
) -> list[bytes]:
    """Meta's webhooks for a change of the template ``name`` in ``language`` of the account ``waba_id``, sent
    now: one per aspect given (``status``: the status event, e.g. ``PAUSED``; ``quality``: the new quality
    score; ``category``: the new category), in Meta's shapes (local/graph_simulator.template_webhook)."""
    template = {"name": name, "language": language}
    bodies = []
    if status:
        bodies.append(template_webhook(waba_id, STATUS_UPDATE, template, event=status.upper()))
    if quality:
        bodies.append(template_webhook(waba_id, QUALITY_UPDATE, template, new_quality_score=quality.upper()))
    if category:
        bodies.append(template_webhook(waba_id, CATEGORY_UPDATE, template, new_category=category.upper()))
    return [json.dumps(body).encode() for body in bodies]


def post_statuses(
    graph: str,
    status: str,
    to: list[str],
    *,
    phone_number_id: str = "",
    waba_id: str = "",
    error_code: int | None = None,
) -> dict[str, Any]:
    """Have the Graph simulator at ``graph`` post Meta's ``status`` of the sends it accepted (``to``: only
    those to these waIds, all when empty; ``phone_number_id``: only that number's) to its webhook target
    (``POST /_simulator/statuses``); its answer (``webhooks``: what it posted)."""
    import httpx

    spec: dict[str, Any] = {"status": status}
    if to:
        spec["to"] = to
    if phone_number_id:
        spec["phoneNumberId"] = phone_number_id
    if waba_id:
        spec["wabaId"] = waba_id
    if error_code is not None:
        spec["errorCode"] = error_code
    answer = httpx.post(f"{graph.rstrip('/')}/_simulator/statuses", json=spec, timeout=60)
    if answer.status_code != 200:
        raise ValueError(f"the Graph simulator answered {answer.status_code}: {answer.text}")
    return dict(answer.json())


def posted_statuses_line(status: str, webhooks: list[dict[str, Any]]) -> str:
    """What ``statuses`` prints: how many it posted, and to whom (``posted 2 delivered statuses: 849…, 849…``)."""
    recipients = sorted(
        {
            entry["recipient_id"]
            for body in webhooks
            for change in body["entry"][0]["changes"]
            for entry in change["value"]["statuses"]
        }
    )
    plural = "status" if len(webhooks) == 1 else "statuses"
    return f"posted {len(webhooks)} {status} {plural}: {', '.join(recipients)}"


def substituted(text: str, settings: dict[str, str]) -> str:
    """``text`` with each placeholder of ``settings`` (``AI_AGENT_ID`` and the like) replaced by its value;
    a placeholder the text does not hold is an error (a mistyped name would leave the flow unchanged). The
    text is JSON: a value is escaped as a JSON string's characters."""
    for placeholder, value in settings.items():
        if placeholder not in text:
            raise ValueError(f"{placeholder} is not in the flow file")
        text = text.replace(placeholder, json.dumps(value, ensure_ascii=False)[1:-1])
    return text


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs (``--set``) as a dict."""
    settings: dict[str, str] = {}
    for pair in pairs:
        placeholder, sep, value = pair.partition("=")
        if not sep or not placeholder:
            raise ValueError(f"--set takes NAME=VALUE, not {pair!r}")
        settings[placeholder] = value
    return settings


def create_flow(api: str, path: Path, shop_id: str, settings: dict[str, str] | None = None) -> tuple[bool, str]:
    """Create the flow of the file at ``path`` for ``shop_id`` (its ``shopId`` replaced, and each placeholder
    of ``settings`` by its value) and activate it, with a dev token for the shop; returns whether both
    succeeded and the last answer's body."""
    import httpx

    document = json.loads(substituted(path.read_text(encoding="utf-8"), settings or {}))
    document["shopId"] = shop_id
    headers = {"Authorization": f"Bearer {mint_token([shop_id])}"}
    base = api.rstrip("/")
    created = httpx.post(f"{base}/flows", json=document, headers=headers, timeout=10)
    if created.status_code != 201:
        return False, created.text
    flow_id = created.json()["data"]["flowId"]
    activated = httpx.post(f"{base}/flows/{flow_id}/activate", headers=headers, timeout=10)
    return activated.status_code == 200, activated.text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a JWT for the local stack")
    token.add_argument("--shop", action="append", required=True, help="shop id (repeat for several)")
    token.add_argument("--sub", default="dev-agent")
    token.add_argument("--ttl", type=int, default=12 * 3600)
    sign = commands.add_parser("sign", help="print the X-Hub-Signature-256 value for a body file")
    sign.add_argument("body", type=Path)
    say = commands.add_parser("say", help="post a customer's text message now, as a signed Meta webhook")
    say.add_argument("text")
    say.add_argument(
        "--referral", metavar="SOURCE_ID", default="", help="as written from the click-to-WhatsApp ad with this id"
    )
    press = commands.add_parser("press", help="post a customer's reply-button press now, as a signed Meta webhook")
    press.add_argument("--id", required=True, help="the button's id (what a flow's question expects)")
    press.add_argument("--title", default="", help="the button's title as the customer saw it (default: the id)")
    template_event = commands.add_parser(
        "template-event", help="post Meta's webhooks for a change of a message template now, signed"
    )
    template_event.add_argument("--name", required=True, help="the template's name")
    template_event.add_argument("--language", default="vi")
    template_event.add_argument("--waba", default=DEV_WABA_ID, help="the WhatsApp Business Account (entry.id)")
    template_event.add_argument("--status", default="", help="a status event: APPROVED, PAUSED, REJECTED…")
    template_event.add_argument("--quality", default="", help="the new quality score: GREEN, YELLOW, RED")
    template_event.add_argument("--category", default="", help="the new category: MARKETING, UTILITY…")
    statuses = commands.add_parser(
        "statuses", help="have the Graph simulator post Meta's statuses of the messages it accepted, signed"
    )
    statuses.add_argument("--status", required=True, choices=("sent", "delivered", "read", "failed"))
    statuses.add_argument(
        "--to", action="append", default=[], help="only the messages to this waId (repeat, or comma-separated)"
    )
    statuses.add_argument("--phone-number-id", default="", help="only this number's messages (default: every one)")
    statuses.add_argument("--waba", default="", help="the WhatsApp Business Account they name (the README's)")
    statuses.add_argument("--error-code", type=int, default=None, help="a failed status's Meta code (131026)")
    statuses.add_argument(
        "--graph", default=DEFAULT_GRAPH, help="the Graph simulator (the local stack serves its own's controls)"
    )
    flow = commands.add_parser("flow", help="create a flow from a JSON file for a shop and activate it")
    flow.add_argument("file", type=Path)
    flow.add_argument("--shop", default=DEV_SHOP, help=f"the shop whose flow it is (default {DEV_SHOP})")
    flow.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="replace the placeholder NAME in the file with VALUE, e.g. AI_AGENT_ID=... (repeatable)",
    )
    for command in (say, press, flow, template_event):
        command.add_argument("--api", default=DEFAULT_API)
    for command in (say, press):
        command.add_argument("--phone-number-id", default=DEV_PHONE_NUMBER_ID)
        command.add_argument("--customer", default="84901234567")
        command.add_argument("--name", default="Nguyễn Văn A")
    args = parser.parse_args(argv)

    if args.command == "say":
        referral = ad_referral(args.referral) if args.referral else None
        print(post_customer_text(args.api, args.text, args.phone_number_id, args.customer, args.name, None, referral))
        return 0
    if args.command == "press":
        print(post_button_press(args.api, args.id, args.title, args.phone_number_id, args.customer, args.name))
        return 0
    if args.command == "template-event":
        bodies = template_event_deliveries(
            args.waba, args.name, args.language, status=args.status, quality=args.quality, category=args.category
        )
        if not bodies:
            print("template-event needs --status, --quality or --category", file=sys.stderr)
            return 2
        for body in bodies:
            print(post_signed(args.api, body))
        return 0
    if args.command == "statuses":
        to = [wa_id for value in args.to for wa_id in value.split(",") if wa_id]
        try:
            answer = post_statuses(
                args.graph,
                args.status,
                to,
                phone_number_id=args.phone_number_id,
                waba_id=args.waba,
                error_code=args.error_code,
            )
        except (ValueError, OSError) as error:
            print(error, file=sys.stderr)
            return 1
        webhooks = answer.get("webhooks") or []
        if not webhooks:
            print(f"the Graph simulator accepted no message {'to ' + ', '.join(to) if to else 'yet'}", file=sys.stderr)
            return 1
        if not answer.get("postedTo"):
            print("the Graph simulator has no webhook target: PUT /_simulator/webhook-target", file=sys.stderr)
            return 1
        print(posted_statuses_line(args.status, webhooks))
        return 0
    if args.command == "flow":
        try:
            settings = parse_settings(args.set)
            ok, answer = create_flow(args.api, args.file, args.shop, settings)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
        print(answer)
        return 0 if ok else 1

    if args.command == "token":
        shops = [shop for value in args.shop for shop in value.split(",") if shop]
        print(mint_token(shops, subject=args.sub, ttl_seconds=args.ttl))
    else:
        ensure_layer_on_path()
        from mkt_whatsapp.whatsapp.signature import sign as sign_body

        print(sign_body(args.body.read_bytes(), defaults.value("META_APP_SECRET")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
