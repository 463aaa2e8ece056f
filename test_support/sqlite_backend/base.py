"""
Django's SQLite backend, made to behave like a server database under concurrent writers.

Write transactions take the lock when they begin (``BEGIN IMMEDIATE``): a transaction that reads
then writes would otherwise fail at once with "database is locked" when another process writes,
whatever the timeout. WAL lets readers proceed beside a writer. Django 5.1 has options for both;
this also covers Django 4.2.
"""

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # the usual pairing with WAL: no fsync per commit
        return connection

    def _start_transaction_under_autocommit(self):
        self.cursor().execute("BEGIN IMMEDIATE")
