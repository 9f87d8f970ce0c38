"""The metadata DB (SQLAlchemy 2: SQLite embedded, PostgreSQL in server mode).

`models` and the `*_tables` modules declare the tables; `store` (class Metadata) opens the DB and
holds projects, keys and price overrides; the other modules are the stores of users, sessions,
detector runs and alerting.
"""
