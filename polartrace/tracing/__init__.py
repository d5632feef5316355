"""The tracing SDK, its in-memory store and integrations."""
