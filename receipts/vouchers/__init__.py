"""Accounting vouchers (记账凭证) for issuers and payers: docs/vouchers.md."""
