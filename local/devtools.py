"""Developer helpers for the local stack: mint a dev JWT, sign a webhook body like Meta does, and post a
customer's text message now, signed, as Meta would deliver it (``say``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from local import defaults
from local.lambdas import ensure_layer_on_path


def mint_token(
    shop_ids: list[str], subject: str = "dev-agent", ttl_seconds: int = 12 * 3600, secret: str | None = None
) -> str:
    import jwt

    now = int(time.time())
    claims = {"sub": subject, "shop_ids": shop_ids, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret or defaults.value("JWT_SECRET"), algorithm="HS256")


def customer_text_delivery(text: str, phone_number_id: str, customer: str, name: str) -> bytes:
    """A Meta delivery of one text message from ``customer`` to ``phone_number_id``, sent now."""
    import json
    import uuid

    message = {
        "from": customer,
        "id": f"wamid.LOCAL.{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
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


def post_customer_text(api: str, text: str, phone_number_id: str, customer: str, name: str) -> str:
    import httpx

    ensure_layer_on_path()
    from mkt_whatsapp.whatsapp.signature import sign as sign_body

    body = customer_text_delivery(text, phone_number_id, customer, name)
    signature = sign_body(body, defaults.value("META_APP_SECRET"))
    reply = httpx.post(
        f"{api.rstrip('/')}/webhooks",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
        timeout=10,
    )
    return reply.text


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
    say.add_argument("--api", default="http://127.0.0.1:3000/api/v1/whatsapp")
    say.add_argument("--phone-number-id", default="106540352242922")
    say.add_argument("--customer", default="84901234567")
    say.add_argument("--name", default="Nguyễn Văn A")
    args = parser.parse_args(argv)

    if args.command == "say":
        print(post_customer_text(args.api, args.text, args.phone_number_id, args.customer, args.name))
        return 0

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
