"""Development-only secrets of the local stack (never used by a deployed stack, which reads Secrets
Manager). Each can be overridden with the environment variable of the same name."""

from __future__ import annotations

import os

LOCAL_DEFAULTS = {
    "JWT_SECRET": "local-dev-jwt-secret-change-me-0123456789",
    "META_APP_SECRET": "local-dev-meta-app-secret",
    "WEBHOOK_VERIFY_TOKEN": "local-dev-verify-token",
}


def value(name: str) -> str:
    return os.environ.get(name) or LOCAL_DEFAULTS[name]
