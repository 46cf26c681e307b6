"""WhatsApp Cloud API: the Graph API client, webhook signature and models, inbound and outbound content
(validated at WhatsApp's limits, translated to Meta's Graph bodies) and messaging tiers."""
