"""Contracts: one JSON Schema (2020-12) per endpoint, inferred from cassettes, checked on replay.

- ``book``: ``ContractFile`` (schema + evidence on disk), ``build``, ``ContractBook`` (checks);
- ``inference``: genson strategies that count evidence, and ``render`` (evidence -> schema);
- ``formats``: string format detectors shared by inference and validation;
- ``samples``: a response body as a sample (JSON, or an SSE stream's events);
- ``openapi``: contracts as one OpenAPI 3.1 document per service.
"""
