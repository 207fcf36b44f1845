"""One ledger writer at a time, on every database.

The ledger's writes read before they write: `identity.Index` looks up which executions are
stored before inserting the new ones, `services.rebuild` deletes a ticker's cycles and stores
them anew. SQLite runs one write transaction at a time (`transaction_mode` IMMEDIATE), so the
read sees every earlier write. PostgreSQL runs them side by side: the worker's live fill and a
Sync click recording the same execution both read "not stored" and one failed on the unique exec
id (a 500 for the Sync click), and two rebuilds of one ticker could store its cycles twice. A
transaction-scoped advisory lock gives PostgreSQL the same one-writer rule for these writes
(tests/deploy/test_postgres.py races two writers).
"""

from __future__ import annotations

from django.db import connection

# pg_advisory_xact_lock's key: any fixed 64-bit number no other part of Wheeldesk uses.
LEDGER_LOCK = 0x57_44_4C_45_44_47_45_52  # "WDLEDGER"


def ledger_writer() -> None:
    """Wait until this transaction is the ledger's only writer; held until it ends.

    Call first thing inside `transaction.atomic()`, before the reads the writes depend on.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK])
