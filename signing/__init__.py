"""Keys, certificates, CRLs and XML signatures for the federation tiers.

This package knows nothing about receipts: ``receipts`` passes in whatever organisation rule
a PKI decision depends on.
"""
