"""Plumbing every feature shares and that knows nothing of them: settings, errors, time, text, AWS
clients, secrets and encrypted tokens, queues, caches, retries, logging and metrics."""
