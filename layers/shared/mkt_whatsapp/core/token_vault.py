"""Account access tokens, encrypted with the service's KMS key.

The encryption context binds a ciphertext to its shop and phone number: a ciphertext copied onto another
account's item does not decrypt. Plain tokens live only in memory for the Graph API call that needs them.
"""

from __future__ import annotations

import hashlib

from mkt_whatsapp.core import aws
from mkt_whatsapp.core.cache import TimedCache
from mkt_whatsapp.core.errors import ConfigurationError
from mkt_whatsapp.core.settings import get_settings


def _context(shop_id: str, phone_number_id: str) -> dict[str, str]:
    return {"shopId": shop_id, "phoneNumberId": phone_number_id}


def encrypt_access_token(token: str, *, shop_id: str, phone_number_id: str) -> bytes:
    key_id = get_settings().token_kms_key_id
    if not key_id:
        raise ConfigurationError("TOKEN_KMS_KEY_ID is not configured")
    response = aws.kms().encrypt(
        KeyId=key_id,
        Plaintext=token.encode(),
        EncryptionContext=_context(shop_id, phone_number_id),
    )
    ciphertext: bytes = response["CiphertextBlob"]
    return ciphertext


def decrypt_access_token(ciphertext: bytes, *, shop_id: str, phone_number_id: str) -> str:
    response = aws.kms().decrypt(
        CiphertextBlob=ciphertext,
        EncryptionContext=_context(shop_id, phone_number_id),
    )
    plaintext: bytes = response["Plaintext"]
    return plaintext.decode()


# Decrypted tokens are kept in this container's memory for a few minutes, so a burst of sends for one
# shop costs one KMS call. Keyed by a hash of the ciphertext: a reconnect (new ciphertext) misses.
_tokens: TimedCache[str, str] = TimedCache(seconds=300.0)


def access_token_for(ciphertext: bytes, *, shop_id: str, phone_number_id: str) -> str:
    key = hashlib.sha256(ciphertext + shop_id.encode() + phone_number_id.encode()).hexdigest()
    return _tokens.get(key, lambda: decrypt_access_token(ciphertext, shop_id=shop_id, phone_number_id=phone_number_id))
