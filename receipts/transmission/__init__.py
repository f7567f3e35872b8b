"""Transmission between tiers: signed packages exported upward and received, acknowledgements."""
