"""Campaigns: one approved template sent to an audience of a shop's customers (docs/campaigns.md).

- ``definitions``: create, list, read, change, delete, launch, pause, resume, cancel, the dry run;
- ``audience``: who the campaign reaches, enumerated a page at a time (GSI2 or the explicit list) and judged;
- ``placeholders``: the per-customer parameters (``{{customer.name|bạn}}``);
- ``fanout``: the campaign state machine's step (pages, waking what waits, completion);
- ``sending``: the sender's side (status, quiet hours, the send, parking);
- ``quiet_hours``, ``executions``: the daily window; the state machine's executions.
"""
