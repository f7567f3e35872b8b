"""The domain core: receipts, money, capitals, identifiers, divisions, the item catalogue and the
receipt XML codec. Imports nothing from the rest of ``receipts`` but its errors and finding codes.

See docs/architecture.md for the layers."""
