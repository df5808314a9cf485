"""The LlamaParse stand-in: v2 and v1 parse jobs that really extract PDF text (pypdf), credits
per tier, job metadata, and signed webhooks with retries."""
