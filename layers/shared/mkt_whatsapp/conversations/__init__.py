"""Conversations: reading them (the shop's list, one with its messages) and acting on them (assign,
close). Sending in a conversation is ``messaging``'s."""
