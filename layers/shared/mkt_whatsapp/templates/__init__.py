"""Message templates: a shop's catalogue of Meta's templates, read and kept in step with Meta
(docs/campaigns.md, "Message templates")."""
