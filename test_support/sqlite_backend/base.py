"""
Django's SQLite backend, made to behave like a server database under concurrent writers.

Write transactions take the lock when they begin (``BEGIN IMMEDIATE``): a transaction that reads
then writes would otherwise fail at once with "database is locked" when another process writes,
whatever the timeout. WAL lets readers proceed beside a writer. Django 5.1 has options for both;
this also covers Django 4.2.
"""

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    """SQLite connections in WAL mode whose transactions take the write lock when they begin."""

    def get_new_connection(self, conn_params):
        """Django's connection, switched to WAL (readers proceed beside a writer)."""
        connection = super().get_new_connection(conn_params)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # the usual pairing with WAL: no fsync per commit
        return connection

    def _start_transaction_under_autocommit(self):
        """Begin with the write lock, so a read-then-write transaction waits instead of failing."""
        self.cursor().execute("BEGIN IMMEDIATE")
