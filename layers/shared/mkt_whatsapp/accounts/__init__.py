"""Accounts: connecting, reading and disconnecting a shop's WhatsApp Business number."""
