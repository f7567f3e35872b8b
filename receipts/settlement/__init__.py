"""Settlement between the tiers (上解 upward, 回拨 back to grassroots unions):
docs/settlement.md."""
