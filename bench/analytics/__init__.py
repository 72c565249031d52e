"""Dashboard bench: 1,000,000 orders and 200,000 customers loaded with COPY into a database of its own."""
