"""Statistics of a ledger, as figures and as a PDF report."""
