"""analytics: a shop's statistics, read from counters kept as events are processed (docs/analytics.md), so
a request reads a bounded number of items whatever the shop's volume. Guarded like every route (JWT, shop,
the analytics rate limit)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import http
from mkt_whatsapp.core.observability import log_metrics, logger

app = http.create_resolver()


@app.get("/analytics/automations")
def automations() -> Response[str]:
    from datetime import UTC, datetime

    from mkt_whatsapp.flows import stats
    from mkt_whatsapp.models.analytics import AutomationsQuery

    query = http.parse_query(app, AutomationsQuery)
    days = query.days(datetime.now(UTC).date())
    return http.ok(
        {
            "flows": stats.automations(query.shop_id, days),
            "startDate": days[0] if days else None,
            "endDate": days[-1] if days else None,
        }
    )


@app.get("/analytics/messages")
def messages() -> Response[str]:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from mkt_whatsapp.analytics import messages as message_stats
    from mkt_whatsapp.models.analytics import MessagesQuery

    query = http.parse_query(app, MessagesQuery)
    today = datetime.now(ZoneInfo(query.timezone)).date()
    start, end = message_stats.default_range(query.start_date, query.end_date, query.group_by, today)
    return http.ok(message_stats.statistics(query.shop_id, start, end, query.group_by, query.timezone))


@app.get("/analytics/ai")
def ai() -> Response[str]:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from mkt_whatsapp.analytics import ai as ai_stats
    from mkt_whatsapp.analytics.messages import default_range
    from mkt_whatsapp.models.analytics import AiQuery

    query = http.parse_query(app, AiQuery)
    today = datetime.now(ZoneInfo(query.timezone)).date()
    start, end = default_range(query.start_date, query.end_date, "day", today)
    return http.ok(ai_stats.statistics(query.shop_id, start, end, query.timezone))


@app.get("/analytics/conversations")
def conversations() -> Response[str]:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from mkt_whatsapp.analytics import conversations as conversation_stats
    from mkt_whatsapp.analytics import messages as message_stats
    from mkt_whatsapp.models.analytics import ConversationsQuery

    query = http.parse_query(app, ConversationsQuery)
    today = datetime.now(ZoneInfo(query.timezone)).date()
    start, end = message_stats.default_range(query.start_date, query.end_date, "day", today)
    return http.ok(conversation_stats.metrics(query.shop_id, start, end, query.timezone))


http.register_pending_routes(app, "analytics")

lambda_handler = logger.inject_lambda_context(log_metrics(http.entrypoint(app)))
