"""Bind a parsed filter and an order_by against the catalogue."""
