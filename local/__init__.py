"""The local stack: the service's own handlers on moto, behind SAM's local API Gateway, with workers for
the queues and the state machine and a WhatsApp Graph API simulator. No AWS account, no Docker."""
