"""Analytics (docs/analytics.md): counters kept from the table's own changes (``counting``) and the
statistics the API reads from them (``messages``)."""
