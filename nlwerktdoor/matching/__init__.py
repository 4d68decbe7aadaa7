"""The matching engine: pure functions over plain data (no Flask, no database)."""
