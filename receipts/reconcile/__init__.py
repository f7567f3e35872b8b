"""Reconciliation: between tiers (signed number-space summaries), against bank statements, and of
number stock."""
