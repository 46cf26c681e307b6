"""Secret values: a plain environment value wins (local stack, tests); otherwise AWS Secrets Manager.

Deployed stacks name the secret (``*_SECRET_ID``) and never carry the value in the template. Values are
cached by Powertools' parameters utility for ``SECRETS_MAX_AGE_SECONDS`` so a warm container makes no call.
"""

from __future__ import annotations

import os

from mkt_whatsapp.core.errors import ConfigurationError
from mkt_whatsapp.core.settings import get_settings


def _secret(plain_env: str, secret_id: str) -> str:
    plain = os.environ.get(plain_env, "")
    if plain:
        return plain
    if not secret_id:
        raise ConfigurationError(f"neither {plain_env} nor its secret id is configured")
    value = _fetch_secret(secret_id)
    if not value:
        raise ConfigurationError(f"secret {secret_id} is empty or not a string")
    return value


def _fetch_secret(secret_id: str) -> str:
    # Imported here: only deployed stacks read Secrets Manager, and the import is not free at cold start.
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(secret_id, max_age=get_settings().secrets_max_age_seconds)
    return value if isinstance(value, str) else ""


def jwt_secret() -> str:
    return _secret("JWT_SECRET", get_settings().jwt_secret_id)


def meta_app_secret() -> str:
    return _secret("META_APP_SECRET", get_settings().meta_app_secret_id)


def webhook_verify_token() -> str:
    return _secret("WEBHOOK_VERIFY_TOKEN", get_settings().webhook_verify_token_id)


def openai_api_key() -> str:
    return _secret("OPENAI_API_KEY", get_settings().openai_api_key_secret_id)
