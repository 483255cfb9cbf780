"""The buyer-facing REST API (/api/v1/): keys, errors, idempotency, limits, and the resources."""
