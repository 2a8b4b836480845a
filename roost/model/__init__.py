"""The home model: one declarative field table and the pure functions built on it."""
