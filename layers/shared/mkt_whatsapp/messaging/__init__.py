"""Sending messages, whoever sends them (an agent, a flow, an AI agent, a campaign):

- ``send``: the rules before a send (window, consent, daily limit, the account's standing), storing the
  message ``queued``, and ``Idempotency-Key``;
- ``delivery``: one attempt through the Graph API (claimed, paced, recorded ``sent`` or ``failed``) and
  the hand-over to the outbound queue after a transient failure;
- ``sender``: the outbound queue's worker (retries with backoff, dead-letter queue);
- ``pacing``: the per-number send rate every sender shares;
- ``standing``: may this account send; ``consent``: a customer's consent changes.
"""
