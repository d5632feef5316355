"""The trace frame: Arrow-backed tables, their layout and builder."""
