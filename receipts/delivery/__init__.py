"""Delivery of receipts to payers by email (SMTP): docs/delivery.md."""
