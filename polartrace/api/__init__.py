"""search_traces and count: input coercion, engine choice, output."""
