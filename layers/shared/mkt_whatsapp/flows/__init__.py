"""Automation flows (docs/automation-flows.md; the contract is ../shared/spec/automation-guide.md):

- ``definitions``: a shop's flows — create, read, change (a new immutable version), activate (its trigger
  claimed, one flow per keyword or button id), deactivate, delete.
"""
