"""A shop's message templates: read them (``GET /templates``, ``GET /templates/{name}``) and read them
again from Meta (``POST /templates/sync``).

**Where Meta keeps them.** Templates belong to the WhatsApp Business Account (WABA) that owns the shop's
number: ``GET /{version}/{waba-id}/message_templates``. The WABA's id is known from ``POST /accounts``
(``wabaId``) or, when the shop did not give it, from the first webhook for its number (``entry[].id``;
inbound/processor.learn_business_account). A shop whose WABA is not known yet cannot be synced: 409
``WABA_ID_UNKNOWN``, naming ``wabaId`` (reconnect with it, or let one message arrive).

**Sync.** Pages through Meta's list (``limit``, ``paging.cursors.after`` while ``paging.next`` is there),
storing each template as read (store/templates.put_synced: every aspect stated as of the sync's start, so a
webhook of a later second is never undone by it). A template the shop had that Meta no longer lists is
marked ``DELETED`` rather than removed: messages already sent name it, a send of it is then refused
saying it was deleted (not "unknown"), and a template created again under the same name comes back with
the next sync. Nothing is marked deleted unless every page was read: a sync that runs out of the
request's time answers ``complete: false`` having stored what it read.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger

from mkt_whatsapp.core import token_vault
from mkt_whatsapp.core.clock import now_iso
from mkt_whatsapp.core.errors import BusinessRuleViolation, Conflict, NotFound, UpstreamError
from mkt_whatsapp.core.settings import get_settings
from mkt_whatsapp.models.templates import TemplatePage, TemplateSync, TemplateView
from mkt_whatsapp.store import accounts as account_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import templates as template_store
from mkt_whatsapp.whatsapp import graph, templates

logger = Logger(child=True)

# Meta's error codes of GET message_templates: the token cannot be used; the account does not exist for it.
_TOKEN_ERRORS = {190, 102, 10, 200}
_ACCOUNT_ERRORS = {100, 803}
# What the sync needs after its last page: storing it and marking the deleted ones.
FINISH_SECONDS = 2.0
_COMPARED = ("status", "category", "qualityScore", "components", "parameterFormat", "metaTemplateId", "rejectedReason")


def _view(item: dict[str, Any]) -> TemplateView:
    return TemplateView.model_validate(item)


def list_templates(shop_id: str, *, status: str | None, category: str | None, skip: int, take: int) -> TemplatePage:
    """A page of the shop's templates (name, then language order), filtered by Meta's ``status`` and
    ``category``, with how many there are."""
    every = template_store.list_for(get_table(), shop_id, status=status, category=category)
    return TemplatePage(templates=[_view(item) for item in every[skip : skip + take]], total_count=len(every))


def get_template(shop_id: str, name: str, language: str) -> TemplateView:
    item = template_store.get(get_table(), shop_id, name, language, consistent=False)
    if item is None:
        raise NotFound(
            f"The shop has no template {name} in {language} (POST /templates/sync reads Meta's)",
            code="TEMPLATE_NOT_FOUND",
            field="name",
        )
    return _view(item)


def _graph_failure(error: graph.GraphApiError) -> BusinessRuleViolation:
    if error.code in _TOKEN_ERRORS:
        code, field = "INVALID_ACCESS_TOKEN", None
    elif error.code in _ACCOUNT_ERRORS:
        code, field = "WABA_NOT_FOUND", "wabaId"
    else:
        code, field = "GRAPH_API_ERROR", None
    return BusinessRuleViolation(
        f"WhatsApp refused to list the templates: {error.message} (Meta code {error.code})", code=code, field=field
    )


def sync(shop_id: str, *, deadline: float | None) -> TemplateSync:
    """Read the shop's templates from Meta again (every page, within ``deadline``, epoch seconds) and keep
    them; see the module's docstring."""
    table = get_table()
    account = account_store.get_account(table, shop_id)
    if account is None or account.status == "disconnected" or not account.encrypted_access_token:
        raise NotFound("No WhatsApp account is connected for this shop", code="ACCOUNT_NOT_FOUND", field="shopId")
    if not account.waba_id:
        raise Conflict(
            "The shop's WhatsApp Business Account id is not known yet: reconnect with wabaId (POST /accounts), "
            "or sync once a webhook for its number has arrived",
            code="WABA_ID_UNKNOWN",
            field="wabaId",
        )
    token = token_vault.access_token_for(
        account.encrypted_access_token, shop_id=shop_id, phone_number_id=account.phone_number_id
    )
    timeout = get_settings().graph_api_inline_timeout_seconds
    started, now = int(time.time()), now_iso()
    stored_before = template_store.list_for(table, shop_id, consistent=True)
    before = {(str(item["name"]), str(item["language"])): item for item in stored_before}
    seen: set[tuple[str, str]] = set()
    created = changed = 0
    after: str | None = None
    complete = False
    while True:
        if deadline is not None and time.time() + timeout + FINISH_SECONDS > deadline:
            logger.warning("template sync ran out of time", extra={"shopId": shop_id, "templates": len(seen)})
            break
        try:
            page = graph.message_templates_page(account.waba_id, token, after, timeout=timeout)
        except graph.GraphApiError as error:
            logger.info("graph refused the template list", extra={"metaCode": error.code, "shopId": shop_id})
            raise _graph_failure(error) from error
        except graph.GraphUnavailable as error:
            raise UpstreamError("WhatsApp Graph API is unavailable; try again", code="GRAPH_API_UNAVAILABLE") from error
        for entry in page.templates:
            definition = templates.definition_of(entry)
            if definition is None or (definition["name"], definition["language"]) in seen:
                continue
            key = (definition["name"], definition["language"])
            seen.add(key)
            stored = before.get(key)
            if stored is None:
                created += 1
            elif any(stored.get(field) != definition.get(field) for field in _COMPARED):
                changed += 1
            template_store.put_synced(table, shop_id, definition, at=started, now=now)
        after = page.after
        if after is None:
            complete = True
            break
    deleted = 0
    if complete:
        for key, item in before.items():
            if key not in seen and item.get("status") != templates.DELETED:
                deleted += template_store.mark_deleted(table, shop_id, *key, at=started, now=now)
    logger.info(
        "templates synced",
        # (not "created": a log record's own attribute)
        extra={"shopId": shop_id, "templates": len(seen), "new": created, "changed": changed, "deleted": deleted},
    )
    return TemplateSync.model_validate(
        {
            "shop_id": shop_id,
            "waba_id": account.waba_id,
            "templates": len(seen),
            "created": created,
            "changed": changed,
            "deleted": deleted,
            "complete": complete,
            "synced_at": now,
        }
    )
