"""The ledger's storage: ORM rows, the database connection, migrations, the hash-chained event log
and shared queries. The operations on the ledger (issuing, booking, transmission, reconciliation,
archives, audit, statistics) are the packages beside this one."""
