"""The federation node (``receipts serve``): the HTTP service a federation runs over its own
ledger — the public 查验 page and API, and the authenticated tier API that joins the tiers online
(docs/architecture.md, docs/security.md)."""
