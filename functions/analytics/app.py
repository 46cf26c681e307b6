"""analytics: a shop's statistics, read from counters kept as events are processed (docs/analytics.md), so
a request reads a bounded number of items whatever the shop's volume. Guarded like every route (JWT, shop,
the analytics rate limit). Messages and conversations land with the rest of issue 13 (501 until then)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import http
from mkt_whatsapp.core.observability import logger, metrics

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


http.register_pending_routes(app, "analytics")

lambda_handler = logger.inject_lambda_context(metrics.log_metrics(http.entrypoint(app)))
