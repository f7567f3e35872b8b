"""What the tests and the benchmarks share, by topic (``bench/`` imports it as a real module:
run benchmarks as ``python -m bench.NAME`` from the repository root).

- :mod:`tests.support.skips`: skip a test locally, fail it under ``CI=true`` (missing tools).
- :mod:`tests.support.factories`: valid receipts and items with any field overridden.
- :mod:`tests.support.pki`: the signing tests' PKI (good, expired, revoked, foreign signers).
- :mod:`tests.support.tier_pki`: a three-tier PKI of receipt signers for ledger and CLI tests.
- :mod:`tests.support.receipt_corpus`: signed receipts, good and bad, with expected findings.
- :mod:`tests.support.ledger`: stocking a city ledger, an issuer, issue requests.
- :mod:`tests.support.postgres`: throw-away PostgreSQL schemas for ledger tests.
- :mod:`tests.support.workspaces`: federation workspaces (a stocked 银川 under 宁夏) and running
  the ``receipts`` command.
- :mod:`tests.support.archive_readme`: an archive package checked with its README's commands.
- :mod:`tests.support.pki_cli`: the three-tier PKI built through ``receipts pki``.
- :mod:`tests.support.pdf`: receipts, their signed XML and PDFs, outside PDF tools.
- :mod:`tests.support.reconcile`: synthetic ledger rows for reconciliation tests.
- :mod:`tests.support.stats_ledger`: a small ledger whose statistics are worked out by hand.
- :mod:`tests.support.batch_files`: writing and reading batch-issue files.
- :mod:`tests.support.hypothesis_profiles`: the ``ci`` and ``dev`` Hypothesis profiles.

The fixtures (``pki``, ``pki_tiers``, ``pki_tiers_copy``, ``ledger_url``, ``ledger_db``,
``pg_schemas``, ``in_tmp_path``) are in ``tests/conftest.py``, which also loads the Hypothesis
profile.
"""
