"""Inbound: Meta's webhooks become stored facts. ``receiver`` (the webhook endpoint: verification and
signed deliveries onto the inbound queue) → ``processor`` (each change stored exactly once: customers,
conversations, messages, statuses) → ``dispatcher`` (what answers a stored message)."""
