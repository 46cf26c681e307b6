"""Developer helpers for the local stack: mint a dev JWT, sign a webhook body like Meta does, post a
customer's text message (``say``) or reply-button press (``press``) now, signed, as Meta would deliver it,
and create and activate a flow file for a shop (``flow``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from local import defaults
from local.lambdas import ensure_layer_on_path

# The README's first session: its shop and the number it connects (what ``say``, ``press`` and ``flow`` use
# unless told otherwise).
DEV_SHOP = "shop-1"
DEV_PHONE_NUMBER_ID = "106540352242922"
DEFAULT_API = "http://127.0.0.1:3000/api/v1/whatsapp"


def mint_token(
    shop_ids: list[str], subject: str = "dev-agent", ttl_seconds: int = 12 * 3600, secret: str | None = None
) -> str:
    import jwt

    now = int(time.time())
    claims = {"sub": subject, "shop_ids": shop_ids, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret or defaults.value("JWT_SECRET"), algorithm="HS256")


def customer_delivery(message: dict[str, Any], phone_number_id: str, customer: str, name: str) -> bytes:
    """A Meta delivery of one message from ``customer`` to ``phone_number_id``, sent now: ``message`` is
    its type and content (``{"type": "text", "text": {...}}``); the sender, id and timestamp are added."""
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
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload).encode()


def customer_text_delivery(text: str, phone_number_id: str, customer: str, name: str) -> bytes:
    """A Meta delivery of one text message from ``customer`` to ``phone_number_id``, sent now."""
    return customer_delivery({"type": "text", "text": {"body": text}}, phone_number_id, customer, name)


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
    api: str, text: str, phone_number_id: str, customer: str, name: str, secret: str | None = None
) -> str:
    return post_signed(api, customer_text_delivery(text, phone_number_id, customer, name), secret)


def post_button_press(
    api: str, button_id: str, title: str, phone_number_id: str, customer: str, name: str, secret: str | None = None
) -> str:
    return post_signed(api, button_press_delivery(button_id, title, phone_number_id, customer, name), secret)


def create_flow(api: str, path: Path, shop_id: str) -> tuple[bool, str]:
    """Create the flow of the file at ``path`` for ``shop_id`` (its ``shopId`` replaced) and activate it,
    with a dev token for the shop; returns whether both succeeded and the last answer's body."""
    import httpx

    document = json.loads(path.read_text())
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
    press = commands.add_parser("press", help="post a customer's reply-button press now, as a signed Meta webhook")
    press.add_argument("--id", required=True, help="the button's id (what a flow's question expects)")
    press.add_argument("--title", default="", help="the button's title as the customer saw it (default: the id)")
    flow = commands.add_parser("flow", help="create a flow from a JSON file for a shop and activate it")
    flow.add_argument("file", type=Path)
    flow.add_argument("--shop", default=DEV_SHOP, help=f"the shop whose flow it is (default {DEV_SHOP})")
    for command in (say, press, flow):
        command.add_argument("--api", default=DEFAULT_API)
    for command in (say, press):
        command.add_argument("--phone-number-id", default=DEV_PHONE_NUMBER_ID)
        command.add_argument("--customer", default="84901234567")
        command.add_argument("--name", default="Nguyễn Văn A")
    args = parser.parse_args(argv)

    if args.command == "say":
        print(post_customer_text(args.api, args.text, args.phone_number_id, args.customer, args.name))
        return 0
    if args.command == "press":
        print(post_button_press(args.api, args.id, args.title, args.phone_number_id, args.customer, args.name))
        return 0
    if args.command == "flow":
        ok, answer = create_flow(args.api, args.file, args.shop)
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
