"""A workspace's keys and certificates: the CA books, key requests and trust, the credentials a
command loads, the receipt signer and a payer's ledger key."""
