"""Tally: a self-hosted orders and promotions engine that speaks Voucherify's public API."""

__version__ = "0.1.0"
