"""Background jobs: records in SQLite, a supervisor process that runs them one at a time."""
