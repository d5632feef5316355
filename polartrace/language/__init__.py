"""The filter language: grammar, parser, diagnosis, AST, regex."""
