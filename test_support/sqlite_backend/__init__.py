"""SQLite for several writing processes (tests, Studio threads, Celery worker, beat)."""
