"""The WhatsApp Cloud (Graph) API client: one HTTP connection pool per container.

Errors come back as :class:`GraphApiError` with Meta's ``code``/``error_subcode``; transport failures and
5xx answers as :class:`GraphUnavailable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from mkt_whatsapp.core.settings import get_settings

if TYPE_CHECKING:
    import httpx

PHONE_NUMBER_FIELDS = (
    "id,display_phone_number,verified_name,quality_rating,"
    "whatsapp_business_manager_messaging_limit,messaging_limit_tier"
)


class GraphApiError(Exception):
    """Meta answered with an error object."""

    def __init__(self, http_status: int, error: dict[str, Any]) -> None:
        self.http_status = http_status
        self.code = int(error.get("code", 0) or 0)
        self.subcode = int(error.get("error_subcode", 0) or 0)
        self.type = str(error.get("type", ""))
        self.message = str(error.get("message", "Graph API error"))
        self.trace_id = str(error.get("fbtrace_id", ""))
        self.is_transient = bool(error.get("is_transient", False))
        super().__init__(f"Graph API error {self.code}: {self.message}")


class GraphUnavailable(Exception):
    """The Graph API could not be reached or failed on its side (5xx)."""


@dataclass(frozen=True, slots=True)
class PhoneNumberInfo:
    phone_number_id: str
    display_phone_number: str | None
    verified_name: str | None
    quality_rating: str | None
    messaging_limit: str | None


@cache
def _http() -> httpx.Client:
    # httpx is loaded with the first Graph call: most requests of a function never reach Meta.
    import httpx

    settings = get_settings()
    return httpx.Client(
        base_url=f"{settings.graph_api_base_url}/{settings.graph_api_version}",
        timeout=httpx.Timeout(settings.graph_api_timeout_seconds, connect=3.0),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"User-Agent": "mkt-whatsapp-service"},
    )


def _request(method: str, path: str, access_token: str, **kwargs: Any) -> dict[str, Any]:
    import httpx

    try:
        response = _http().request(method, path, headers={"Authorization": f"Bearer {access_token}"}, **kwargs)
    except httpx.HTTPError as error:
        raise GraphUnavailable(f"Graph API unreachable: {type(error).__name__}") from error
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.is_success and isinstance(payload, dict):
        return payload
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        if response.status_code >= 500 and not payload["error"].get("code"):
            raise GraphUnavailable(f"Graph API answered {response.status_code}")
        raise GraphApiError(response.status_code, payload["error"])
    raise GraphUnavailable(f"Graph API answered {response.status_code} without an error object")


def _timeout(seconds: float | None) -> dict[str, Any]:
    """A call's own read timeout (None: the client's)."""
    if seconds is None:
        return {}
    import httpx

    return {"timeout": httpx.Timeout(seconds, connect=min(3.0, seconds))}


def get_phone_number(phone_number_id: str, access_token: str) -> PhoneNumberInfo:
    """``GET /{version}/{phone-number-id}``: proves the token can use the number and reads its limit."""
    payload = _request("GET", f"/{phone_number_id}", access_token, params={"fields": PHONE_NUMBER_FIELDS})
    limit = payload.get("whatsapp_business_manager_messaging_limit") or payload.get("messaging_limit_tier")
    return PhoneNumberInfo(
        phone_number_id=str(payload.get("id", phone_number_id)),
        display_phone_number=payload.get("display_phone_number"),
        verified_name=payload.get("verified_name"),
        quality_rating=payload.get("quality_rating"),
        messaging_limit=str(limit) if limit else None,
    )


# What a sync reads of each template (GET /{waba-id}/message_templates), and how many a page: Meta's pages
# hold up to 100 (the simulator answers fewer, so paging is exercised).
TEMPLATE_FIELDS = "id,name,language,status,category,components,quality_score,parameter_format,rejected_reason"
TEMPLATE_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class TemplatePage:
    templates: list[dict[str, Any]]
    after: str | None  # the cursor of the next page (None: this was the last)


def message_templates_page(
    waba_id: str, access_token: str, after: str | None = None, timeout: float | None = None
) -> TemplatePage:
    """One page of ``GET /{version}/{waba-id}/message_templates``: its templates (Meta's shape) and the
    cursor of the next page, when ``paging.next`` says there is one. ``timeout`` (seconds) replaces the
    client's read timeout for this call."""
    params: dict[str, Any] = {"fields": TEMPLATE_FIELDS, "limit": TEMPLATE_PAGE_SIZE}
    if after:
        params["after"] = after
    payload = _request("GET", f"/{waba_id}/message_templates", access_token, params=params, **_timeout(timeout))
    data = payload.get("data")
    paging = payload.get("paging")
    paging = paging if isinstance(paging, dict) else {}
    cursors = paging.get("cursors")
    cursors = cursors if isinstance(cursors, dict) else {}
    following = cursors.get("after") if paging.get("next") else None
    return TemplatePage(
        templates=[entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else [],
        after=str(following) if following else None,
    )


# Meta's error codes by what a sender should do about them (DESIGN.md, Meta's error-code reference).
TRANSIENT_CODES = frozenset({130429, 131056, 80007, 4, 1, 2, 131000, 131016, 131057})
ACCOUNT_CODES = frozenset({190, 0, 131031, 368, 131042})


def is_transient(error: GraphApiError) -> bool:
    """Worth retrying with backoff: throughput/pair-rate limits, temporary Meta errors, anything Meta marks
    ``is_transient``."""
    return error.is_transient or error.code in TRANSIENT_CODES


def is_account_level(error: GraphApiError) -> bool:
    """The account (token, payment, policy) is the problem: no send of this shop can succeed."""
    return is_account_level_code(error.code)


def is_account_level_code(code: object) -> bool:
    return code in ACCOUNT_CODES


@dataclass(frozen=True, slots=True)
class SentMessage:
    whatsapp_message_id: str


def send_message(
    phone_number_id: str, access_token: str, body: dict[str, Any], timeout: float | None = None
) -> SentMessage:
    """``POST /{version}/{phone-number-id}/messages``: Meta's answer carries the new message's wamid.
    ``timeout`` (seconds) replaces the client's read timeout for this call."""
    payload = _request("POST", f"/{phone_number_id}/messages", access_token, json=body, **_timeout(timeout))
    messages = payload.get("messages") or []
    if not messages or not messages[0].get("id"):
        raise GraphUnavailable("Graph API accepted the send without a message id")
    return SentMessage(whatsapp_message_id=str(messages[0]["id"]))
