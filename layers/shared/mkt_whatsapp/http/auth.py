"""Bearer JWT authentication and shop authorisation.

HS256 with the JWT secret by default; RS256 (or another asymmetric algorithm) with keys from a JWKS URL
when ``JWT_JWKS_URL`` is set. Only the configured algorithm is accepted, so ``alg: none`` and algorithm
confusion are refused. ``exp`` and ``sub`` are required; ``iss``/``aud`` are checked when configured.
Claims: ``sub`` (the agent or service) and ``shop_ids`` (the shops the caller may act on).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt

from mkt_whatsapp.core import secrets
from mkt_whatsapp.core.errors import Forbidden, Unauthorized
from mkt_whatsapp.core.settings import get_settings


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    shop_ids: frozenset[str]

    def require_shop(self, shop_id: str, *, field: str = "shopId") -> None:
        """403 unless this caller may act on ``shop_id`` (``field`` names where the request named it)."""
        if shop_id not in self.shop_ids:
            raise Forbidden("This token does not grant access to this shop", code="SHOP_ACCESS_DENIED", field=field)


@cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300)


def _verification_key(token: str) -> Any:
    settings = get_settings()
    if settings.jwt_jwks_url:
        return _jwks_client(settings.jwt_jwks_url).get_signing_key_from_jwt(token).key
    return secrets.jwt_secret()


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("Missing Authorization header", code="MISSING_TOKEN")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'", code="INVALID_TOKEN")
    return token.strip()


# Bounds on what a token names: its subject and shop ids become rate-limit keys (DynamoDB's partition key is
# at most 2,048 bytes), and no shop id of this service is longer than 64 characters.
MAX_SUBJECT = 256
MAX_SHOP_ID = 128
MAX_SHOPS = 1000


def authenticate(authorization: str | None) -> Principal:
    """The caller behind an ``Authorization`` header; 401 for anything but a valid token."""
    token = bearer_token(authorization)
    settings = get_settings()
    required = ["exp", "sub"]
    if settings.jwt_issuer:
        required.append("iss")
    if settings.jwt_audience:
        required.append("aud")
    try:
        claims = jwt.decode(
            token,
            key=_verification_key(token),
            algorithms=[settings.jwt_algorithm],
            issuer=settings.jwt_issuer or None,
            audience=settings.jwt_audience or None,
            options={"require": required, "verify_aud": bool(settings.jwt_audience)},
            leeway=30,
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthorized("Token has expired", code="TOKEN_EXPIRED") from error
    except jwt.PyJWTError as error:
        raise Unauthorized("Invalid token", code="INVALID_TOKEN") from error

    subject = claims.get("sub")
    shop_ids = claims.get("shop_ids")
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT:
        raise Unauthorized("Token has no subject (or one too long)", code="INVALID_TOKEN")
    if (
        not isinstance(shop_ids, list)
        or len(shop_ids) > MAX_SHOPS
        or not all(isinstance(shop, str) and 0 < len(shop) <= MAX_SHOP_ID for shop in shop_ids)
    ):
        raise Unauthorized("Token claim shop_ids must be a list of shop ids", code="INVALID_TOKEN")
    return Principal(subject=subject, shop_ids=frozenset(shop_ids))
