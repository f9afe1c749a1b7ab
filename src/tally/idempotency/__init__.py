"""Idempotency keys: a retried mutating request answers as the first one did."""
