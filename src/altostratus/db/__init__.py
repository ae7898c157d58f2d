"""Database layer: engine and transactions, models, migrations."""
