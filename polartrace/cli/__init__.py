"""The polartrace command line."""
