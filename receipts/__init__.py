"""Union-dues e-receipts: the domain (model, money, XML, PDF, issuing) and its ledger."""

__version__ = "0.1.0"
