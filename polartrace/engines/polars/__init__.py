"""The in-memory Polars engine: compiled masks, ordering, paging."""
