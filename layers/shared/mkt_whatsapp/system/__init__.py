"""The service itself: readiness (the health check)."""
