"""Customers: reading them (the shop's list, one profile) and changing them (tags, consent)."""
