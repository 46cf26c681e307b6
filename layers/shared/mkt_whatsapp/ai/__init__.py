"""AI agents: a shop's sales assistant on the OpenAI API (docs/ai-agents.md).

- ``knowledge``: the plain types every part shares (an agent's profile, its FAQ and products, a customer's
  context, a conversation turn);
- ``ranking``: the knowledge entries most relevant to the latest customer turns (BM25 over folded text),
  an index built once per agent version and cached in the warm container;
- ``prompt``: the Chat Completions messages (system message with delimited knowledge; history cut to a
  token budget);
- ``pricing``: USD per million tokens per model, in one place;
- ``provider``: the one call to the provider through the official ``openai`` package.
"""
