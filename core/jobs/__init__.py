"""Background jobs, every kind: records in SQLite, a supervisor process per lane that runs them one at a time, next steps."""
