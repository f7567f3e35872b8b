"""Verifying receipts and packages without a ledger: receipt XML and QR seals, PDFs, many files on
all cores, archive packages."""
