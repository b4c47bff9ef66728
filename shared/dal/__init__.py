"""Data access: one module per table, the only code that knows key and attribute names."""
