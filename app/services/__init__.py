"""Use cases: load rows, ask app.loyalty, write entries, commit. The only code that commits."""
