"""The OpenAI stand-in: embeddings (float and base64), chat (plain and streamed) and models,
with usage counted by the real tokenizer, rate-limit headers, 429s and quota errors."""
