"""The gradebook's SQLite connection and its one transaction helper, shared by every module that writes it."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """An autocommit connection (transactions are explicit, :class:`Transaction`), rows by column name, WAL."""
    db = sqlite3.connect(path, isolation_level=None, timeout=timeout, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


class Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an exception) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
