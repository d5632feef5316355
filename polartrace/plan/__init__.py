"""Backend-neutral pieces of a search that every engine shares."""
