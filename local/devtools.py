"""Developer helpers for the local stack: mint a dev JWT, sign a webhook body like Meta does."""

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a JWT for the local stack")
    token.add_argument("--shop", action="append", required=True, help="shop id (repeat for several)")
    token.add_argument("--sub", default="dev-agent")
    token.add_argument("--ttl", type=int, default=12 * 3600)
    sign = commands.add_parser("sign", help="print the X-Hub-Signature-256 value for a body file")
    sign.add_argument("body", type=Path)
    args = parser.parse_args(argv)

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
