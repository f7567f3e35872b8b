"""What the tests and the benchmarks share, by topic (``bench/`` imports it as a real module:
run benchmarks as ``python -m bench.NAME`` from the repository root).

- :mod:`tests.support.skips`: skip a test locally, fail it under ``CI=true`` (missing tools).
- :mod:`tests.support.factories`: valid receipts and items with any field overridden.
- :mod:`tests.support.pki`: the signing tests' PKI (good, expired, revoked, foreign signers).
- :mod:`tests.support.tier_pki`: a three-tier PKI of receipt signers for ledger and CLI tests.
- :mod:`tests.support.receipt_corpus`: signed receipts, good and bad, with expected findings.
- :mod:`tests.support.ledger`: stocking a city ledger, an issuer, issue requests.
- :mod:`tests.support.postgres`: throw-away PostgreSQL schemas for ledger tests.
- :mod:`tests.support.workspaces`: federation workspaces and running the ``receipts`` command.
- :mod:`tests.support.pdf`: receipts, their signed XML and PDFs, outside PDF tools.
- :mod:`tests.support.reconcile`: synthetic ledger rows for reconciliation tests.

Fixtures (``pki``, ``ledger_url``, ``ledger_db``, ``pg_schemas``) and the Hypothesis profiles
are in ``tests/conftest.py``.
"""
