"""Validation rules and their assignments to vouchers, campaigns and promotion tiers."""
