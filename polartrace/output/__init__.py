"""Result rows for a page: one builder per return type."""
