"""The time-stamp authority and signature time-stamps of receipts (docs/security.md,
"Time-stamps"; docs/operations.md, "Running the time-stamp authority").

:mod:`receipts.tsa.config` reads ``[tsa]``; :mod:`receipts.tsa.authority` loads a CA
workspace's authority (key, certificate, serial log); :mod:`receipts.tsa.http` serves it over
HTTP (RFC 3161 §3.4); :mod:`receipts.tsa.client` asks a remote one; :mod:`receipts.tsa.stamping`
stamps receipts and keeps their tokens beside them.
"""
