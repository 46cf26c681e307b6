"""WhatsApp Cloud API: the Graph API client, messaging tiers and (later) webhook parsing and content."""
